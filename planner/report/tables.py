"""Tables as data (title, header, rows, which columns are numeric) and the three ways they are drawn:
rich for the terminal, Markdown, and HTML. Every report builds its tables once and picks a renderer."""
from __future__ import annotations

import io
from dataclasses import dataclass, field
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


def rich_table(data: TableData) -> Any:
    """The table as a rich Table (titled, aligned by column kind)."""
    from rich.table import Table

    table = Table(title=data.title or None, title_justify="left")
    for i, col in enumerate(data.header):
        table.add_column(col, justify="left" if i in data.left else "right")
    for row in data.rows:
        table.add_row(*row)
    return table


def render_rich(items: list[Any], width: int, color: bool = False) -> str:
    """rich renderables (tables, strings) printed to text at `width` columns, a blank line after each table."""
    from rich.console import Console

    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=color, no_color=not color, highlight=False)
    for item in items:
        console.print(item)
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
