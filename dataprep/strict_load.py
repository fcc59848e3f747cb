"""Parsing YAML and JSON settings files by one set of rules: safe, YAML 1.2 numbers, no repeated keys.

Recipes, trainer configs, palettes and remap files are all read here, so a key
written twice (`p: 0.5` and further down `p: 1.0`) is an error naming the key
everywhere instead of silently keeping the last value.
"""
from __future__ import annotations

import json
import re
from typing import Any

import yaml


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads `3e-4` as a number (YAML 1.2) and refuses duplicate keys.

    PyYAML's 1.1 rules make `3e-4` a string, and a repeated key silently keeps
    the last value (`p: 0.5` then `p: 1.0` further down).
    """

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


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                |\.[0-9_]+(?:[eE][-+][0-9]+)?
                |[-+]?\.(?:inf|Inf|INF)
                |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."),
)


def load_yaml(text: str) -> Any:
    """Parse YAML the way recipe and trainer files are read (safe, YAML 1.2 numbers)."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


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
    return json.loads(text, object_pairs_hook=_refuse_duplicates)


__all__ = ["DuplicateKeyError", "load_json", "load_yaml"]
