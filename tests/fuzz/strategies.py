"""Hostile values and mutations: numbers at the edges of floats and ints, strings with control bytes, wrong types."""
from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

EDGE_FLOATS = st.sampled_from([0.0, -0.0, -1.0, 1e-324, 5e-324, 1e-9, 1e308, 1.7e308, float("nan"), float("inf"), -float("inf")])
NUMBERS = st.one_of(EDGE_FLOATS, st.floats(allow_nan=True, allow_infinity=True),
                    st.integers(min_value=-(10**30), max_value=10**30), st.sampled_from([0, -1, 2**63, 10**10]))
TEXT = st.one_of(st.text(max_size=20), st.sampled_from(["", "nan", "inf", "-1", "1e308", "yesterday", "\x00", "\x07bell",
                                                       "é", "[1, 2]", "{a: 1}", "*alias", "&anchor", "~", "null", "9" * 5000]))
VALUES: st.SearchStrategy[Any] = st.recursive(
    st.one_of(NUMBERS, TEXT, st.booleans(), st.none()),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6)


def paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path in a nested dict/list document."""
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += paths(v, prefix + (i,))
    return out


def set_path(doc: Any, path: tuple, value: Any, delete: bool = False) -> None:
    """Replace (or delete) the value at `path` in place."""
    for part in path[:-1]:
        doc = doc[part]
    if delete:
        del doc[path[-1]]
    else:
        doc[path[-1]] = value


@st.composite
def mutated(draw: st.DrawFn, doc: Any, max_changes: int = 3) -> Any:
    """A deep copy of `doc` with a few values replaced, deleted, or unknown keys added."""
    import copy

    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, max_changes))):
        where = paths(doc)
        if not where:
            break
        path = draw(st.sampled_from(where))
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        try:
            if action == "add":
                target = doc
                for part in path[:-1]:
                    target = target[part]
                if isinstance(target, dict):
                    target[draw(st.text(min_size=1, max_size=10))] = draw(VALUES)
            else:
                set_path(doc, path, draw(VALUES), delete=action == "delete")
        except (KeyError, IndexError, TypeError):
            pass
    return doc


@st.composite
def mutated_bytes(draw: st.DrawFn, data: bytes) -> bytes:
    """`data` with a few byte-level edits: inserted junk (control, NUL, invalid UTF-8), cut, or duplicated lines."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(out)))
        kind = draw(st.sampled_from(["insert", "delete", "truncate", "dup"]))
        if kind == "insert":
            out[pos:pos] = draw(st.one_of(st.binary(max_size=6), st.sampled_from([b"\x00", b"\xff\xfe", b"\x1b[31m", b",,,", b"\n", b"\r"])))
        elif kind == "delete":
            del out[pos:pos + draw(st.integers(1, 10))]
        elif kind == "truncate":
            del out[pos:]
        else:
            lines = bytes(out).split(b"\n")
            i = draw(st.integers(0, max(len(lines) - 1, 0)))
            lines.insert(i, lines[i] if lines else b"")
            out = bytearray(b"\n".join(lines))
    return bytes(out)
