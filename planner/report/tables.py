"""Tables as data (title, header, rows, which columns are numeric) and the three ways they are drawn:
rich for the terminal, Markdown, and HTML. Every report builds its tables once and picks a renderer."""
from __future__ import annotations

import io
import os
import shutil
import sys
from dataclasses import dataclass, field, replace
from html import escape
from typing import Any

from planner.demand.series import HOURS_PER_MONTH


@dataclass(frozen=True)
class TableData:
    title: str
    header: list[str]
    rows: list[list[str]]
    left: frozenset[int] = field(default=frozenset({0}))
    """Indices of left-aligned (text) columns; the others are right-aligned numbers."""


DEFAULT_WIDTH = 140
"""Columns used when the output is not a terminal and COLUMNS is unset (files, pipes): wide, never wrapped."""
MIN_CELL = 12
"""Text cells are abbreviated down to this many characters at most (or their header's width)."""
COMPACT_MIN_CELL = 8
"""In the compact style, as far as two characters and the legend mark (`sl…[12]`): a cut cell always keeps its mark."""


def terminal_width(default: int = DEFAULT_WIDTH) -> int:
    """COLUMNS when it is set to a number, else the terminal's width when stdout is one, else `default`."""
    env = os.environ.get("COLUMNS", "").strip()
    if env.isdigit() and int(env) > 0:
        return max(int(env), 40)
    if sys.stdout.isatty():
        return shutil.get_terminal_size((default, 24)).columns
    return default


def _header_lines(header: str, compact: bool) -> list[str]:
    """A header on one line, or (compact) one word a line for the words that do not fit beside each other."""
    return header.split(" ") if compact and " " in header else [header]


def _width(data: TableData, compact: bool = False) -> tuple[list[int], int]:
    """Each column's width and the table's: rich's box costs 3 a column (border, two pads) and 1; compact, a
    separator and a left pad between columns (rich_table's compact style)."""
    widths = [max([max(map(len, _header_lines(h, compact)))] + [len(r[i]) for r in data.rows]) for i, h in enumerate(data.header)]
    return widths, sum(w + (2 if compact else 3) for w in widths) + (-2 if compact else 1)


def fit(data: TableData, width: int) -> tuple[TableData, list[str], bool]:
    """The table abbreviated to `width` columns where text cells allow it, the legend of the abbreviations, and
    whether the compact style (no vertical borders, headers a word a line) is needed.

    The widest text column is cut first; a cut cell ends in `…[k]` and the legend line `[k] full text` follows
    the table, so nothing is wrapped into an unreadable block and nothing is lost. Numbers are never cut.
    """
    for compact in (False, True):
        widths, total = _width(data, compact)
        rows = [list(r) for r in data.rows]
        legend: dict[str, int] = {}
        least = COMPACT_MIN_CELL if compact else MIN_CELL
        while total > width:
            cuttable = [i for i in data.left if widths[i] > max(len(_header_lines(data.header[i], compact)[0]), least)]
            if not cuttable:
                break
            col = max(cuttable, key=lambda i: (widths[i], -i))
            target = max(least, widths[col] - (total - width))
            for row in rows:
                text = row[col]
                if len(text) > target:
                    mark = f"…[{legend.setdefault(text, len(legend) + 1)}]"
                    row[col] = text[:max(target - len(mark), 1)].rstrip() + mark
            widths, total = _width(replace(data, rows=rows), compact)
        if total <= width or compact:
            header = ["\n".join(_header_lines(h, compact)) for h in data.header]
            return replace(data, header=header, rows=rows), [f"[{k}] {text}" for text, k in legend.items()], compact
    raise AssertionError("unreachable")


def money(x: float | None) -> str:
    return "-" if x is None else f"${x:,.2f}"


def ms(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}" if x >= 100 else f"{x:.1f}"


def per_month(usd_per_hour: float | None) -> float | None:
    return None if usd_per_hour is None else usd_per_hour * HOURS_PER_MONTH


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def md_table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table (cells with `|` escaped), ending in a newline."""
    return "\n".join([_md_row(header), _md_row(["---"] * len(header))] + [_md_row(r) for r in rows]) + "\n"


def rich_table(data: TableData, compact: bool = False) -> Any:
    """The table as a rich Table (titled, aligned by column kind; numbers keep their width, nothing wraps)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    style = {"box": box.SIMPLE_HEAD, "padding": (0, 0, 0, 1), "pad_edge": False, "show_edge": False} if compact else {}
    table = Table(title=data.title or None, title_justify="left", **style)
    widths = [max([len(r[i]) for r in data.rows] + [max(map(len, h.split("\n")))]) for i, h in enumerate(data.header)]
    for i, col in enumerate(data.header):
        text = i in data.left
        table.add_column(col, justify="left" if text else "right", no_wrap=True, overflow="ellipsis",
                         min_width=None if text else widths[i])
    for row in data.rows:
        table.add_row(*(Text(cell) for cell in row))  # plain text: `[h100]` is a value, not rich markup
    return table


def render_rich(items: list[Any], width: int | None = None, color: bool = False) -> str:
    """Tables (TableData, fitted to the width with a legend of cut cells), other rich renderables and strings,
    printed at `width` columns (default: terminal_width()), a blank line after each table."""
    from rich.console import Console

    width = width or terminal_width()
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=color, no_color=not color, highlight=False)
    for item in items:
        legend: list[str] = []
        if isinstance(item, TableData):
            item, legend, compact = fit(item, width)
            item = rich_table(item, compact)
        console.print(item)
        for line in legend:
            console.print(line, overflow="fold", crop=False, markup=False)
        if not isinstance(item, str):
            console.print()
    return buf.getvalue()


def html_table(header: list[str], rows: list[list[str]]) -> str:
    """A plain HTML table; cells that look like numbers are right-aligned."""
    def cell(c: str, tag: str) -> str:
        numeric = tag == "td" and c[:1] in "$+-0123456789" and len(c) < 40
        return f"<{tag}{' class=n' if numeric else ''}>{escape(str(c))}</{tag}>"

    head = "".join(cell(h, "th") for h in header)
    body = "".join("<tr>" + "".join(cell(c, "td") for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
