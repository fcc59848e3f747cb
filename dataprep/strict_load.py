"""Parsing YAML and JSON settings files by one set of rules: safe, YAML 1.2 numbers, no repeated keys.

Recipes, trainer configs, palettes and remap files are all read here, so a key
written twice (`p: 0.5` and further down `p: 1.0`) is an error naming the key
everywhere instead of silently keeping the last value.

Numbers follow YAML 1.2's core schema, not PyYAML's 1.1 rules: `0512` is 512 (1.1: octal 330), `0o14` is
octal and `0x1F` hex, `1:20` is the string '1:20' (1.1: 80, base 60) and `0b101` a string; `3e-4` is a
float. `_` between digits is kept as a separator (`1_000`), as PyYAML does. Merge keys (`<<: *defaults`)
work as YAML's merge spec says: the mapping's own keys override merged ones.
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
# YAML 1.2 core ints (decimal, leading zeros and all; 0o octal; 0x hex), not 1.1's 0-octal, 0b and base 60.
_YAML_12_INT = re.compile(r"^(?:[-+]?[0-9][0-9_]*|0o[0-7]+|0x[0-9a-fA-F]+)$")
_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
MERGE_TAG = "tag:yaml.org,2002:merge"


def _yaml_12_int(text: str) -> int:
    if text.startswith(("0o", "0x")):
        return int(text[2:], 8 if text[1] == "o" else 16)
    return int(text.replace("_", ""), 10)  # int("0512", 10) is 512; PyYAML read it in base 8


@cache
def _loader() -> type:
    """SafeLoader with YAML 1.2 numbers (`3e-4`, `0512`) that refuses duplicate keys.

    PyYAML's 1.1 rules make `3e-4` a string and `0512` octal 330, and a repeated key
    silently keeps the last value (`p: 0.5` then `p: 1.0` further down).
    """
    import yaml

    class _Loader(yaml.SafeLoader):
        def __init__(self, stream: Any) -> None:
            super().__init__(stream)
            self._flattened: dict[int, Any] = {}  # id -> node: mappings checked and merged

        def flatten_mapping(self, node: Any) -> None:
            # Every mapping passes here before its merge keys are expanded (merged ones too, from their
            # parent), so the duplicate check sees the keys as written: a merged key that the mapping
            # overrides is the merge spec's override, not a duplicate. PyYAML 6's own flatten keeps the
            # first of equal merged keys, so `<<: *m` took m's merged `p` over m's own `p`.
            if id(node) in self._flattened:
                return
            self._flattened[id(node)] = node  # kept alive: its id cannot be reused meanwhile
            _refuse_duplicate_keys(self, node)
            merged, own = [], []
            for key_node, value_node in node.value:
                if key_node.tag != MERGE_TAG:
                    if key_node.tag == "tag:yaml.org,2002:value":  # as PyYAML: `=` is a plain key
                        key_node.tag = "tag:yaml.org,2002:str"
                    own.append((key_node, value_node))
                    continue
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                for source in reversed(sources):  # later pairs win: the first mapping listed overrides the rest
                    if not isinstance(source, yaml.MappingNode):
                        raise yaml.constructor.ConstructorError(
                            None, None, f"`<<` merges mappings (`<<: *name` or `<<: [*a, *b]`), not a {source.id}",
                            source.start_mark)
                    self.flatten_mapping(source)
                    merged.extend(source.value)
            node.value = merged + own  # the mapping's own keys last: they override merged ones

        def construct_yaml_int(self, node: Any) -> int:
            text = self.construct_scalar(node)
            if not _YAML_12_INT.match(text):  # an explicit `!!int 0b101`: an error naming it, not a traceback
                raise yaml.constructor.ConstructorError(
                    None, None, f"{text!r} is not a YAML 1.2 integer (decimal, 0o octal or 0x hex)", node.start_mark)
            return _yaml_12_int(text)

    _Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)
    # PyYAML's 1.1 int and float patterns would match first (`0512` as octal, `1:20` as 80): drop them.
    _Loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in _NUMBER_TAGS]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    _Loader.add_implicit_resolver("tag:yaml.org,2002:int", _YAML_12_INT, list("-+0123456789"))
    _Loader.add_implicit_resolver("tag:yaml.org,2002:float", _YAML_12_FLOAT, list("-+0123456789."))
    return _Loader


def _refuse_duplicate_keys(loader: Any, node: Any) -> None:
    """ConstructorError at the second of two equal keys of `node` (a MappingNode, before merging)."""
    import yaml

    seen: set[Any] = set()
    merges = 0
    for key_node, _value in node.value:
        if key_node.tag == MERGE_TAG:
            merges += 1
            if merges > 1:  # PyYAML would merge both; one `<<` taking a list says the order
                raise yaml.constructor.ConstructorError(
                    None, None, "duplicate key '<<' (merge several mappings with `<<: [*a, *b]`)",
                    key_node.start_mark)
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
            seen.add(key)
        except TypeError:  # unhashable keys: PyYAML reports them itself
            continue
        if duplicate:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)


TOO_DEEP = "nested too deeply to be read (thousands of levels of lists or mappings)"


def load_yaml(text: str) -> Any:
    """Parse YAML the way recipe and trainer files are read (safe, YAML 1.2 numbers)."""
    import yaml

    try:
        return yaml.load(text, Loader=_loader())  # noqa: S506 - a SafeLoader subclass
    except RecursionError:  # a hostile file: one line as any other YAML error, not 3,000 of traceback
        raise yaml.YAMLError(TOO_DEEP) from None


def yaml_reason(exc: Exception) -> str:
    """One line for a YAML error: `line L, column C: problem`, PyYAML's reason with where it is.

    `str(exc)` starts with the context ("while scanning for the next token") and puts the reason
    and the line on later lines, which a one-line error dropped.
    """
    problem, mark = getattr(exc, "problem", None), getattr(exc, "problem_mark", None)
    if not problem:
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "'\\t'" in problem or "tab character" in problem:
        problem = "found a tab (YAML indents with spaces: replace the tab with spaces)"
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and context_mark is not None and (mark is None or context_mark.line != mark.line):
        # an unclosed `[` is found lines below: say where it was opened
        problem += f" ({context} from line {context_mark.line + 1}, column {context_mark.column + 1})"
    return problem if mark is None else f"line {mark.line + 1}, column {mark.column + 1}: {problem}"


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


__all__ = ["TOO_DEEP", "DuplicateKeyError", "dump_yaml", "load_json", "load_yaml", "yaml_error", "yaml_reason"]
