"""Text tables for reports: one list of rows, rendered as Markdown or HTML."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence


def markdown_row(cells: Sequence[object]) -> str:
    """One row of a Markdown table (pipes in cells escaped), without a newline."""
    return "| " + " | ".join(str(cell).replace("|", "\\|") for cell in cells) + " |"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table, newline-terminated; with no rows, the header alone
    (print rows with `markdown_row` as they come)."""
    body = [markdown_row(header), "|" + "---|" * len(header), *(markdown_row(r) for r in rows)]
    return "\n".join(body) + "\n"


def html_table(
    header: Sequence[str],
    rows: Sequence[Sequence[object]],
    cell_class: Callable[[str], str | None] | None = None,
) -> str:
    """An HTML <table> with escaped cells; `cell_class(text)` may give a cell a CSS class."""

    def cell(value: object) -> str:
        text = str(value)
        css = cell_class(text) if cell_class else None
        attribute = f' class="{css}"' if css else ""
        return f"<td{attribute}>{html.escape(text)}</td>"

    head = "".join(f"<th>{html.escape(str(name))}</th>" for name in header)
    body = "".join("<tr>" + "".join(cell(value) for value in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
