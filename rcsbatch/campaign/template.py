"""Message templates: text with `{column}` placeholders, merged per row.

`{{` and `}}` write literal braces. A placeholder names a column of the recipient file exactly as
its header spells it (spaces included).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


@dataclass(frozen=True)
class Template:
    """A parsed template: literal parts and placeholders, alternating, starting with a literal."""

    source: str
    literals: tuple[str, ...]
    fields: tuple[str, ...]  # len(fields) == len(literals) - 1

    @classmethod
    def parse(cls, source: str) -> Template:
        """Parse `source`; raise ValueError on a lone brace or an empty placeholder."""
        literals: list[str] = []
        fields: list[str] = []
        current: list[str] = []
        pos = 0
        for match in _TOKEN.finditer(source):
            current.append(source[pos : match.start()])
            pos = match.end()
            token = match.group(0)
            if token in ("{{", "}}"):
                current.append(token[0])
            elif match.group(1) is not None:
                name = match.group(1)
                if not name.strip():
                    raise ValueError(f"has an empty placeholder `{{}}` at position {match.start()}")
                literals.append("".join(current))
                current = []
                fields.append(name)
            else:
                raise ValueError(
                    f"has a lone `{token}` at position {match.start()}; write `{token}{token}` "
                    "for a literal brace"
                )
        current.append(source[pos:])
        literals.append("".join(current))
        return cls(source, tuple(literals), tuple(fields))

    @property
    def is_constant(self) -> bool:
        """True when the template has no placeholders."""
        return not self.fields

    def render(self, values: Mapping[str, str]) -> str:
        """Merge one row's `values` (every field must be present)."""
        out = [self.literals[0]]
        for name, literal in zip(self.fields, self.literals[1:], strict=True):
            out.append(values[name])
            out.append(literal)
        return "".join(out)

    def render_frame(
        self,
        frame: pd.DataFrame,
        encoders: Sequence[Callable[[pd.Series], pd.Series] | None] = (),
    ) -> pd.Series:
        """Merge every row of `frame` at once; cells must already be filled (no NA).

        `encoders`, when given, holds one function (or None) per placeholder, in order: it
        turns that placeholder's column into the text merged (a URL's percent-encoding).
        """
        if self.is_constant:
            return pd.Series(self.literals[0], index=frame.index, dtype="str")
        result: pd.Series | None = None
        for i, name in enumerate(self.fields):
            encode = encoders[i] if encoders else None
            column = encode(frame[name]) if encode else frame[name]
            piece = self.literals[i] + column if self.literals[i] else column
            result = piece if result is None else result + piece
        assert result is not None
        if self.literals[-1]:
            result = result + self.literals[-1]
        return result
