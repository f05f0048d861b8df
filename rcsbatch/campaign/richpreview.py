"""A rich message for people: the RCS object drawn as panels (one per card) with its buttons.

Every piece of the object is merged recipient data: it goes into `Text` (never parsed as markup)
with its control characters written out, so nothing in a cell can restyle or drive the terminal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from rcsbatch.recipients.controls import visible

_ICONS = {
    "reply": "↩",
    "dial": "☎",
    "viewLocation": "⌖",
    "shareLocation": "⌖",
    "createCalendarEvent": "▦",
    "openUrl": "↗",
}


def _suggestion(s: Mapping[str, Any]) -> str:
    """One button: `[↗ Shop → https://…]`, naming what it does beyond replying."""
    kind = str(s.get("type", ""))
    target = ""
    if "url" in s:
        target = str(s["url"])
    elif "phoneNumber" in s:
        target = str(s["phoneNumber"])
    elif "location" in s:
        loc = s["location"]
        target = str(loc.get("query") or f"{loc.get('latitude')},{loc.get('longitude')}")
    elif "calendarEvent" in s:
        ev = s["calendarEvent"]
        target = f"{ev.get('title')} {ev.get('startTime')} – {ev.get('endTime')}"
    elif "postbackData" in s:
        target = f"postback {s['postbackData']}"
    label = f"{_ICONS.get(kind, '•')} {s.get('text', '')}"
    return f"[{label}{' → ' + target if target else ''}]"


def _buttons(suggestions: Any, prefix: str = "") -> list[RenderableType]:
    if not suggestions:
        return []
    return [_text(prefix + " ".join(_suggestion(s) for s in suggestions), style="cyan")]


def _text(value: object, style: str = "") -> Text:
    return Text(visible(str(value)), style=style)


def _card(card: Mapping[str, Any], caption: str) -> Panel:
    parts: list[RenderableType] = []
    if card.get("title"):
        parts.append(_text(card["title"], style="bold"))
    if card.get("description"):
        parts.append(_text(card["description"]))
    parts += _file_lines(card.get("file"))
    parts += _buttons(card.get("suggestions"))
    layout = [card.get("orientation"), card.get("thumbnailImageAlignment")]
    subtitle = _text(", ".join(str(x) for x in layout if x)) if any(layout) else None
    return Panel(Group(*parts), title=escape(caption), subtitle=subtitle, expand=False)


def _file_lines(file: Any) -> list[RenderableType]:
    if not isinstance(file, Mapping):
        return []
    lines: list[RenderableType] = [_text(f"media: {file.get('fileUrl')}", style="green")]
    if file.get("thumbnailUrl"):
        lines.append(_text(f"thumbnail: {file['thumbnailUrl']}", style="green"))
    if file.get("height"):
        lines.append(_text(f"height: {file['height']}", style="dim"))
    return lines


def render(obj: Mapping[str, Any]) -> RenderableType:
    """The RCS object as panels: the card(s), file or text, then the message's suggestions."""
    parts: list[RenderableType] = []
    if "richcard" in obj:
        parts.append(_card(obj["richcard"], "rich card"))
    elif "carousel" in obj:
        carousel = obj["carousel"]
        cards = carousel.get("richcards", [])
        for i, card in enumerate(cards, 1):
            parts.append(_card(card, f"carousel {carousel.get('width')}: card {i} of {len(cards)}"))
    elif "file" in obj:
        parts.append(Panel(Group(*_file_lines(obj["file"])), title="file", expand=False))
    elif "text" in obj:
        parts.append(Panel(_text(obj["text"]), title="text", expand=False))
    parts += _buttons(obj.get("suggestions"), "suggestions: ")
    return Group(*parts)
