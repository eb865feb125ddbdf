"""Tables that read cleanly wherever they go: a table on a terminal wide enough for it, `name: value`
lines everywhere else (a pipe, a file, a CI log).

A table is drawn only on a terminal, and only when every column can be given at least its longest
word: rich would otherwise split words and paths across lines ("transfor" / "mers"). Otherwise each
row becomes plain lines, which never split a word and read the same at any width:

    ✓ python version
      expected: 3.11
      actual: 3.11
      detail: /opt/venv/bin/python

and a table of names and one value (a plan, a layer list) gives one `name: value` line per row. A
value of several lines continues on lines indented under its name. Cells are plain text (a `str` is
never read as rich markup) or `rich.text.Text` with its own style.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from dockyard.cli.output import no_controls

Cell = str | Text
CUT_MIN = 24  # the narrowest a cut column is drawn


@dataclass(frozen=True)
class Column:
    header: str
    justify: Literal["left", "right"] = "left"
    style: str = ""
    key: bool = False  # part of the row's name in the line form (a status mark, the probe's name)
    cut: bool = False  # a one-line summary (a layer's instruction): cut at a word to the width, ending in …


@dataclass
class Listing:
    columns: tuple[Column, ...]
    title: str = ""
    show_header: bool = True
    lines: bool = False  # a rule between rows, in the table form
    rows: list[tuple[Text, ...]] = field(default_factory=list)

    def add(self, *cells: Cell) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"{len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(tuple(_text(cell) for cell in cells))


def _text(cell: Cell) -> Text:
    return cell if isinstance(cell, Text) else Text(no_controls(cell))


def show(listing: Listing, console: Console) -> None:
    """Print `listing` as a table where it fits a terminal, else as `name: value` lines."""
    widths = fitting_widths(listing, console.width) if console.is_terminal else None
    if widths is None:
        for line in as_lines(listing, console.width):
            console.print(line, soft_wrap=True)
        return
    console.print(as_table(listing, widths), soft_wrap=False)


def _words(text: Text) -> int:
    return max((len(word) for line in text.plain.splitlines() for word in line.split()), default=0)


def _longest_line(text: Text) -> int:
    return max((len(line) for line in text.plain.splitlines()), default=0)


def _frame(listing: Listing) -> Table:
    return Table(title=listing.title or None, show_header=listing.show_header, header_style="bold",
                 show_lines=listing.lines, box=box.SIMPLE_HEAD if listing.lines else None, pad_edge=False,
                 title_justify="left", expand=False)


def _overhead(listing: Listing) -> int:
    """The characters a table spends outside its cells (padding, rules), measured by drawing it with
    one-character columns."""
    import io

    table = _frame(listing)
    for _ in listing.columns:
        table.add_column("", width=1, no_wrap=True)
    table.add_row(*("x" for _ in listing.columns))
    probe = Console(file=io.StringIO(), width=1000, color_system=None)
    probe.print(table)
    drawn = probe.file.getvalue().splitlines()  # type: ignore[attr-defined]
    return max(len(line.rstrip()) for line in drawn if "x" in line) - len(listing.columns)


def fitting_widths(listing: Listing, width: int) -> list[int] | None:
    """Column widths that fit `width` with no word cut, or None when even the longest words do not fit."""
    columns = listing.columns
    widest = [max([len(c.header) if listing.show_header else 0,
                   *(_longest_line(row[i]) for row in listing.rows)]) for i, c in enumerate(columns)]
    narrowest = [min(CUT_MIN, widest[i]) if c.cut else
                 max([len(c.header) if listing.show_header else 0, *(_words(row[i]) for row in listing.rows)])
                 for i, c in enumerate(columns)]
    room = width - _overhead(listing)
    if sum(widest) <= room:
        return widest
    if sum(narrowest) > room:
        return None
    widths = list(narrowest)
    spare = room - sum(widths)
    wants = [w - n for w, n in zip(widest, narrowest, strict=True)]
    total = sum(wants)
    for i, want in enumerate(wants):  # the room left, shared in proportion to what each column lacks
        widths[i] += want * spare // total if total else 0
    return widths


def cut(text: Text, width: int) -> Text:
    """The text's first line cut at a word boundary to `width`, ending in … when anything was left out."""
    plain = text.plain.splitlines()[0] if text.plain else ""
    if len(plain) <= width and "\n" not in text.plain:
        return text
    room = max(1, width - 1)
    head = plain[:room]
    if len(plain) > room and " " in head and plain[room:room + 1] != " ":
        head = head.rsplit(" ", 1)[0]
    shown = text[:len(head.rstrip())]
    shown.append("…")
    return shown


def as_table(listing: Listing, widths: list[int]) -> Table:
    table = _frame(listing)
    for column, width in zip(listing.columns, widths, strict=True):
        table.add_column(column.header, justify=column.justify, style=column.style or None, width=width,
                         no_wrap=column.cut, overflow="fold")
    for row in listing.rows:
        table.add_row(*(cut(cell, width) if column.cut else cell
                        for column, cell, width in zip(listing.columns, row, widths, strict=True)))
    return table


def as_lines(listing: Listing, width: int) -> list[Text]:
    """Each row as `name: value` lines: the key columns make the name; one value column goes on the
    name's line, several go one a line under it (`header: value`), empty ones are left out."""
    out: list[Text] = []
    if listing.title:
        out.append(Text(no_controls(listing.title), style="bold"))
    keys = [i for i, c in enumerate(listing.columns) if c.key] or [0]
    values = [i for i in range(len(listing.columns)) if i not in keys]
    for row in listing.rows:
        name = Text(" ").join(row[i] for i in keys if row[i].plain)
        filled = [i for i in values if row[i].plain]
        if len(values) == 1:
            line = name.copy()
            if filled:
                line.append(": ")
                out += _value(line, row[filled[0]], listing.columns[filled[0]], width, "  ")
            else:
                out.append(line)
            continue
        out.append(name)
        for i in filled:
            column = listing.columns[i]
            line = Text("  ")
            line.append(f"{column.header}: " if column.header else "")
            out += _value(line, row[i], column, width, "    ")
    return out


def _value(line: Text, value: Text, column: Column, width: int, indent: str) -> list[Text]:
    if column.cut:
        line.append_text(cut(value, max(CUT_MIN, width - len(line.plain))))
        return [line]
    first, *rest = value.split("\n") if value.plain else [value]
    line.append_text(first)
    return [line, *(Text(indent) + more for more in rest)]
