"""Issue 12's "one of each": each concern has one home, and a second copy fails a test here.

The checks read the package's source (`ast`, `tokenize`), so they hold wherever modules move.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "rcsbatch"


def sources() -> dict[str, str]:
    """Every module of the package, by its path relative to the package."""
    return {
        str(p.relative_to(PACKAGE)): p.read_text(encoding="utf-8")
        for p in sorted(PACKAGE.rglob("*.py"))
    }


def comments(text: str) -> list[tuple[int, str]]:
    """The comments of a module's source, with their line numbers."""
    tokens = tokenize.generate_tokens(io.StringIO(text).readline)
    return [(t.start[0], t.string) for t in tokens if t.type == tokenize.COMMENT]


# A measured figure: "~3 %", "12 %", "0.16 s -> 0.03 s", "2.5×".
FIGURE = re.compile(r"\d\s*%|\d\s*(s|ms)\s*(->|→)\s*\d|\d\s*×")


def test_comments_carry_no_benchmark_figures() -> None:
    """Comments say why, not how much: measured figures live in bench/RESULTS.md, where they
    are kept current (a figure in a comment drifts from it)."""
    found = [
        f"{name}:{line}: {text}"
        for name, text in sources().items()
        for line, text in comments(text)
        if FIGURE.search(text)
    ]
    assert not found, "\n".join(found)


def test_figure_pattern_finds_the_kinds_of_figure_it_names() -> None:
    """The pattern above catches the figures the issue quoted and passes plain reasoning."""
    assert FIGURE.search("# saves ~3 % of a run")
    assert FIGURE.search("# (0.13-0.16 s -> 0.03 s after a run)")
    assert not FIGURE.search("# % is slower than // in numpy")
    assert not FIGURE.search("# one every 1000 s")
    assert not FIGURE.search("# xlsx has at most ~1M rows")
