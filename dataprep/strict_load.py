"""Parsing YAML and JSON settings files by one set of rules: safe, YAML 1.2 numbers, no repeated keys.

Recipes, trainer configs, palettes and remap files are all read here, so a key
written twice (`p: 0.5` and further down `p: 1.0`) is an error naming the key
everywhere instead of silently keeping the last value.
"""
from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

# PyYAML costs ~12 ms to import; a command that reads only JSON (a palette.json, a
# 1-file masks2labels) never pays it: the loader class is built on the first YAML read.

_YAML_12_FLOAT = re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                |\.[0-9_]+(?:[eE][-+][0-9]+)?
                |[-+]?\.(?:inf|Inf|INF)
                |\.(?:nan|NaN|NAN))$""", re.X)


@cache
def _loader() -> type:
    """SafeLoader that reads `3e-4` as a number (YAML 1.2) and refuses duplicate keys.

    PyYAML's 1.1 rules make `3e-4` a string, and a repeated key silently keeps
    the last value (`p: 0.5` then `p: 1.0` further down).
    """
    import yaml

    class _Loader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            if isinstance(node, yaml.MappingNode):
                seen: set[Any] = set()
                for key_node, _value in node.value:
                    key = self.construct_object(key_node, deep=True)
                    try:
                        duplicate = key in seen
                        seen.add(key)
                    except TypeError:  # unhashable keys: PyYAML reports them itself
                        continue
                    if duplicate:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"duplicate key {key!r} (line {key_node.start_mark.line + 1})",
                            key_node.start_mark)
            return super().construct_mapping(node, deep=deep)

    _Loader.add_implicit_resolver("tag:yaml.org,2002:float", _YAML_12_FLOAT, list("-+0123456789."))
    return _Loader


TOO_DEEP = "nested too deeply to be read (thousands of levels of lists or mappings)"


def load_yaml(text: str) -> Any:
    """Parse YAML the way recipe and trainer files are read (safe, YAML 1.2 numbers)."""
    import yaml

    try:
        return yaml.load(text, Loader=_loader())  # noqa: S506 - a SafeLoader subclass
    except RecursionError:  # a hostile file: one line as any other YAML error, not 3,000 of traceback
        raise yaml.YAMLError(TOO_DEEP) from None


def yaml_error() -> type[Exception]:
    """`yaml.YAMLError`, imported on demand: for `except (..., yaml_error())`, which Python
    evaluates only once an exception is on its way (after a YAML read has imported yaml anyway)."""
    import yaml

    return yaml.YAMLError


def dump_yaml(data: Any) -> str:
    """`yaml.safe_dump(data, sort_keys=False)`: keys in the order written, imported on demand."""
    import yaml

    return yaml.safe_dump(data, sort_keys=False)


class DuplicateKeyError(ValueError):
    """A JSON object with a key given twice."""


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKeyError(f"duplicate key {key!r}")
        out[key] = value
    return out


def load_json(text: str) -> Any:
    """`json.loads` that refuses an object with a repeated key (json keeps the last one silently)."""
    try:
        return json.loads(text, object_pairs_hook=_refuse_duplicates)
    except RecursionError:
        raise ValueError(TOO_DEEP) from None


__all__ = ["TOO_DEEP", "DuplicateKeyError", "dump_yaml", "load_json", "load_yaml", "yaml_error"]
