"""The one compiled part, kept out of pyproject.toml (whose ext-modules table setuptools still calls experimental).

`dataprep._histogram` speeds up pixel and class counting (`stats`, `kfold`) and the colour
lookup of `masks2labels`; `optional=True` lets the install go on without a C compiler, and
the same numbers then come from cv2.calcHist and numpy.
"""
from setuptools import Extension, setup

setup(ext_modules=[Extension("dataprep._histogram", ["dataprep/_histogram.c"], optional=True)])
