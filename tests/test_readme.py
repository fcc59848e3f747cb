"""The README's "five commands" run as written (training shortened to a few steps)."""
from __future__ import annotations

import re
import shlex

from conftest import REPO


def _five_commands() -> list[list[str]]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Train on your data in five commands", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [shlex.split(line) for line in block.splitlines() if line.strip()]


def test_readme_five_commands_work_verbatim(tmp_path, monkeypatch, cli):
    commands = _five_commands()
    assert [c[1] for c in commands] == ["scan", "masks2labels", "stats", "kfold", "train"]
    # A user's checkout: the commands read sample_data/ and pipelines/ and write work/ and runs/.
    for name in ("sample_data", "pipelines"):
        (tmp_path / name).symlink_to(REPO / name)
    monkeypatch.chdir(tmp_path)
    for command in commands:
        assert command[0] == "dataprep"
        args = command[1:]
        if args[0] == "train":  # the full run takes minutes; a few steps prove the wiring
            args += ["--max-steps", "2", "--set", "data.num_workers=0", "-q"]
        result = cli(*args)
        assert result.exit_code == 0, f"{' '.join(command)}\n{result.output}"
    assert (tmp_path / "runs/sample/last.pt").is_file()
    assert (tmp_path / "work/splits/manifest.csv").is_file()
