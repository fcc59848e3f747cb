"""`python -m dataprep`: the `dataprep` command, for environments whose scripts folder is not on PATH."""
from .console import main

main()
