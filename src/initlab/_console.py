"""What the command line prints: its consoles, literal text and numbers rounded for people.

Rich reads ``[word]`` as markup, so a message built by pasting user or library text
into a markup string loses its brackets (``pip install initlab[parquet]`` would print
as ``pip install initlab``) or crashes (``[/bold]``).  The command line therefore never
pastes text into markup: it builds :class:`rich.text.Text`, which rich never parses,
from literal strings and ``(string, style)`` pairs with :func:`text`, and its tables
with :func:`table`, whose title, caption and cells are all literal.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence

from rich.box import SIMPLE_HEAD
from rich.console import Console
from rich.table import Table
from rich.text import Text

console = Console()
err_console = Console(stderr=True)

Part = str | Text | tuple[str, str]

#: A value smaller than this, or than this share of its column's largest value, is
#: rounding noise (the standard deviation of equal values: 5.851e-17) and prints as 0.
_NOISE = 1e-12
_NOISE_SHARE = 1e-9
#: A text column is at least as wide as its longest word, up to this many characters.
_WORD = 16


def text(*parts: Part) -> Text:
    """Literal text: strings as they are, ``(string, style)`` pairs styled.

    >>> text("pip install initlab[parquet]").plain
    'pip install initlab[parquet]'
    >>> text(("error:", "bold red"), " ", "[/bold]").plain
    'error: [/bold]'
    """
    return Text.assemble(*(str(p) if not isinstance(p, (Text, tuple)) else p for p in parts))


def say(*parts: Part, err: bool = False) -> None:
    """Print one line of literal text (on stderr with ``err``)."""
    (err_console if err else console).print(text(*parts))


def warn(message: object) -> None:
    say(("warning:", "yellow"), " ", str(message), err=True)


def error(message: object) -> None:
    say(("error:", "bold red"), " ", str(message), err=True)


def number(value: object, scale: float | None = None) -> str:
    """A number as people read it: 4 significant digits, no float noise.

    ``scale`` is the largest magnitude of the value's column; values below
    ``1e-9 * scale`` (or 1e-12) are rounding noise and print as 0.

    >>> [number(v) for v in (0.8488000000000001, 5.851e-17, 816576.3, 2.0, float("nan"))]
    ['0.8488', '0', '816576', '2', '']
    >>> number(1.5e-6), number(2.5e12), number(float("inf"))
    ('1.5e-06', '2.5e+12', 'inf')
    """
    if value is None or isinstance(value, bool) or not isinstance(value, numbers.Real):
        return "" if value is None else str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    v = float(value)
    if math.isnan(v):
        return ""
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if abs(v) < _NOISE or (scale and abs(v) < _NOISE_SHARE * scale):
        return "0"
    if 1e4 <= abs(v) < 1e9:
        return f"{v:.0f}"
    return f"{v:.4g}"


def column(values: Sequence[object]) -> list[str]:
    """A column of cells: numbers rounded against the column's largest magnitude."""
    numeric = [
        abs(float(v))
        for v in values
        if isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(float(v))
    ]
    scale = max(numeric, default=0.0)
    return [number(v, scale) for v in values]


def _longest_word(cell: Text) -> int:
    return max((len(w) for w in cell.plain.split()), default=0)


def table(
    title: str | Text | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[object]],
    caption: str | Text | None = None,
    right: Iterable[str] = (),
    row_styles: Sequence[str | None] | None = None,
    **options,
) -> Table:
    """A table whose title, caption, headers and cells are literal text.

    A column is never narrower than its header (no header folded one letter per
    line); the columns named in ``right`` hold numbers: right-aligned and never
    cut, while text columns wrap between words (a word longer than 16 characters
    may fold).  Compact: no vertical rules, one space between columns; at least as
    wide as the title.  ``row_styles`` style whole rows.
    """
    right = set(right)
    rows = [[v if isinstance(v, Text) else text(str(v)) for v in row] for row in rows]
    title = text(title) if title is not None else None
    compact = {"box": SIMPLE_HEAD, "padding": (0, 1, 0, 0), "show_edge": False}
    if title is not None:
        compact["min_width"] = title.cell_len  # the title on one line
    options = {**compact, **options}
    out = Table(
        title=title,
        caption=text(caption) if caption is not None else None,
        title_justify="left",
        caption_justify="left",
        **options,
    )
    for i, c in enumerate(columns):
        if c in right:
            cells = [r[i].cell_len for r in rows]
        else:
            cells = [min(_longest_word(r[i]), _WORD) for r in rows]
        width = max([len(str(c)), *cells])
        out.add_column(
            text(c),
            justify="right" if c in right else "left",
            min_width=width,
            overflow="fold",
        )
    for row, style in zip(rows, row_styles or [None] * len(rows), strict=True):
        out.add_row(*row, style=style)
    return out
