"""YAML loading that remembers line numbers, and pydantic validation that reports `file:line: field: problem`.

Unknown keys are rejected by the schemas (`extra="forbid"`); here they get a "did you mean" hint.
"""
from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from planner.errors import PlannerError, suggest

M = TypeVar("M", bound=BaseModel)
Loc = tuple[Any, ...]


class _LineLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc] - libyaml when present: ~10x faster
    """SafeLoader that refuses duplicate keys; the composed node tree gives every path's line."""


MAX_BYTES = 16 * 2**20
"""Largest YAML input read (16 MiB; a workload or catalog is a few kB): an endless device never fills memory."""
MAX_NODES = 200_000
"""Most YAML nodes after expanding aliases: a billion-laughs alias bomb is refused before it is built."""
MAX_DEPTH = 64
"""Deepest nesting accepted (planner's schemas need 5)."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise yaml.constructor.ConstructorError(None, None, "a mapping key must be a plain name, not a list or mapping",
                                                    key_node.start_mark)
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _check_size(root: yaml.Node) -> str | None:
    """Why a node tree is unsafe to build (an alias cycle, too deep, too many nodes once aliases expand), or None."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 0, False)]
    open_: set[int] = set()
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        children = ([n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode)
                    else list(node.value) if isinstance(node, yaml.SequenceNode) else [])
        if done:
            open_.discard(key)
            sizes[key] = min(1 + sum(sizes[id(c)] for c in children), MAX_NODES + 1)
            if sizes[key] > MAX_NODES:
                return f"more than {MAX_NODES:,} values once aliases are expanded (an alias bomb?)"
            continue
        if key in sizes:
            continue
        if key in open_:
            return "an alias refers to a node that contains it (a recursive alias)"
        if depth > MAX_DEPTH:
            return f"nested more than {MAX_DEPTH} levels deep"
        open_.add(key)
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in children if id(c) not in sizes)
    return None


def _line_index(node: yaml.Node, loc: Loc, out: dict[Loc, int]) -> None:
    """Fill `out` with the 1-based line of every path below `node`."""
    out.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            out[loc + (key,)] = key_node.start_mark.line + 1
            _line_index(value_node, loc + (key,), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out[loc + (i,)] = item.start_mark.line + 1
            _line_index(item, loc + (i,), out)


class YamlDoc:
    """Parsed YAML data plus the line of every path, so errors can point into the file."""

    def __init__(self, data: Any, lines: dict[Loc, int], path: Path) -> None:
        self.data = data
        self.lines = lines
        self.path = path

    def line_of(self, loc: Loc) -> int | None:
        """Line of the deepest known prefix of `loc`."""
        for cut in range(len(loc), -1, -1):
            if loc[:cut] in self.lines:
                return self.lines[loc[:cut]]
        return None

    def where(self, loc: Loc) -> str:
        line = self.line_of(loc)
        return f"{self.path}:{line}" if line else str(self.path)


def load_yaml(path: str | Path, error: type[PlannerError] = PlannerError) -> YamlDoc:
    """Read a YAML file; a missing file or a syntax error becomes `error` with file:line."""
    path = Path(path)
    text = read_text(path, error)
    loader = _LineLoader(text)
    try:
        node = loader.get_single_node()  # one parse: the node tree gives the lines, then the data
        unsafe = _check_size(node) if node is not None else None
        if unsafe:
            raise error(f"{path}: refused: {unsafe}")
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        raise error(f"{path}{line}: invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:  # the reader's errors (control characters) carry a position, not a mark
        raise error(f"{path}: invalid YAML: {str(exc).splitlines()[0]}") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise error(f"{path}: invalid YAML value: {str(exc).split(';')[0]}") from None
    except RecursionError:
        raise error(f"{path}: refused: nested too deeply") from None
    finally:
        loader.dispose()
    lines: dict[Loc, int] = {}
    if node is not None:
        _line_index(node, (), lines)
    return YamlDoc(data, lines, path)


def read_text(path: Path, error: type[PlannerError] = PlannerError, limit: int = MAX_BYTES) -> str:
    """A regular UTF-8 text file of at most `limit` bytes, or `error` naming the file (FIFOs and devices refused)."""
    try:
        if not path.is_file():
            what = "not found" if not path.exists() else "not a regular file (a directory, FIFO or device)"
            raise error(f"{path}: cannot read file: {what}")
        with path.open("rb") as fh:
            raw = fh.read(limit + 1)
    except OSError as exc:
        raise error(f"{path}: cannot read file: {exc.strerror or exc}") from None
    if len(raw) > limit:
        raise error(f"{path}: larger than {limit // 2**20} MiB; is this the right file?")
    if b"\0" in raw:
        raise error(f"{path}: binary data (NUL bytes) where a YAML text file was expected")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not a UTF-8 text file (byte 0x{raw[exc.start]:02x} at offset {exc.start})") from None


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete classes an annotation may hold (Optional/Union/list/dict unwrapped)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return [c for arg in typing.get_args(annotation) for c in _unwrap(arg)]
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (list, tuple, set, frozenset):
        return [("seq", c) for arg in typing.get_args(annotation) for c in _unwrap(arg)]
    if origin is dict:
        args = typing.get_args(annotation)
        return [("map", c) for c in _unwrap(args[1])] if len(args) == 2 else []
    return [annotation]


def allowed_keys(model: type[BaseModel], loc: Loc) -> list[str]:
    """Field names accepted at `loc` (the parent of an unknown key), for 'did you mean' hints."""
    candidates: list[Any] = [model]
    for part in loc:
        nxt: list[Any] = []
        for c in candidates:
            if isinstance(c, tuple):  # container: skip the index/key level
                nxt.append(c[1])
            elif isinstance(c, type) and issubclass(c, BaseModel) and isinstance(part, str):
                field = c.model_fields.get(part)
                if field is not None:
                    nxt.extend(_unwrap(field.annotation))
        candidates = nxt
    keys: list[str] = []
    for c in candidates:
        if isinstance(c, type) and issubclass(c, BaseModel):
            keys.extend(c.model_fields)
    return keys


def format_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _clean_loc(loc: Loc) -> Loc:
    """Drop pydantic's union/validator tags (e.g. 'function-after[...]') from a loc."""
    return tuple(p for p in loc if not (isinstance(p, str) and ("[" in p and "]" in p)))


def validation_messages(exc: ValidationError, model: type[BaseModel], doc: YamlDoc, prefix: Loc = ()) -> list[str]:
    """One `file:line: field: what was expected` line per pydantic error, sorted by line."""
    rows: list[tuple[int, str]] = []
    for err in exc.errors():
        loc = prefix + _clean_loc(tuple(err["loc"]))
        line = doc.line_of(loc) or 0
        where = f"{doc.path}:{line}" if line else str(doc.path)
        if err["type"] == "extra_forbidden":
            key = loc[-1]
            hint = suggest(str(key), allowed_keys(model, _clean_loc(tuple(err["loc"]))[:-1]))
            rows.append((line, f"{where}: {format_loc(loc)}: unknown key{hint}"))
            continue
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        got = err.get("input")
        shown = "" if err["type"] == "missing" or isinstance(got, (dict, list)) else f", got {got!r}"
        rows.append((line, f"{where}: {format_loc(loc)}: {msg}{shown}"))
    return [m for _, m in sorted(rows, key=lambda r: r[0])]


def validate(model: type[M], doc: YamlDoc, error: type[PlannerError], data: Any = None, context: dict | None = None) -> M:
    """Validate `doc.data` (or `data`) into `model`, raising `error` listing every problem with file:line."""
    payload = doc.data if data is None else data
    if payload is None:
        raise error(f"{doc.path}: the file is empty; expected a mapping of {model.__name__} fields")
    if not isinstance(payload, dict):
        raise error(f"{doc.where(())}: expected a mapping at the top level, got {type(payload).__name__}")
    try:
        return model.model_validate(payload, context=context)
    except ValidationError as exc:
        raise error("\n".join(validation_messages(exc, model, doc))) from None
