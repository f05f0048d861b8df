"""Rich content ("RCS object") as the simulated gateway reads and checks it.

seven-gateway.md names three unconfirmed places for the object; :func:`extract` says which one a
request used so the backend can refuse the forms its ``rich_form`` knob does not accept. The
checks follow the field names of seven's unmerged client change and Google RBM's limits.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

#: RBM's limit for a text message; seven documents none, so the simulator answers 401 above it.
MAX_TEXT = 3072
CONTENT_KEYS = ("text", "richcard", "carousel", "file")
TOP_LEVEL_KEYS = ("richcard", "carousel", "file", "suggestions")
SUGGESTION_TYPES = frozenset(
    {"reply", "dial", "viewLocation", "createCalendarEvent", "openUrl", "shareLocation"}
)
MAX_SUGGESTIONS = 11
MAX_CARD_SUGGESTIONS = 4
# RBM carousels hold 2 to 10 cards.
CAROUSEL_CARDS = (2, 10)


class RichError(ValueError):
    """The rich content is malformed; ``code`` is the gateway's answer (305, or 401 too long)."""

    def __init__(self, message: str, code: str = "305") -> None:
        super().__init__(message)
        self.code = code


def _loads_object(value: Any) -> Any:
    if isinstance(value, str) and value.lstrip().startswith(("{", "[")):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def extract(params: Mapping[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    """Find the request's rich content: ``(form, object)``, or ``(None, None)`` for plain text.

    ``form`` is ``json_text`` (an object as ``text``), ``form_string`` (a JSON string in ``text``
    holding content keys) or ``top_level`` (content keys beside ``to``).
    """
    text = params.get("text")
    top = {k: params[k] for k in TOP_LEVEL_KEYS if params.get(k) not in (None, "")}
    if isinstance(text, dict):
        if top:
            raise RichError("rich content both in text and beside it")
        return "json_text", text
    if isinstance(text, str) and text.lstrip().startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and any(k in parsed for k in (*CONTENT_KEYS, "suggestions")):
            if top:
                raise RichError("rich content both in text and beside it")
            return "form_string", parsed
    if top:
        obj = {k: _loads_object(v) for k, v in top.items()}
        if text not in (None, ""):
            obj["text"] = text
        return "top_level", obj
    return None, None


def _suggestions(value: Any, limit: int) -> None:
    if not isinstance(value, list) or len(value) > limit:
        raise RichError(f"suggestions must be a list of at most {limit}")
    for s in value:
        if not isinstance(s, dict) or s.get("type") not in SUGGESTION_TYPES:
            raise RichError("suggestion without a valid type")
        if not isinstance(s.get("text"), str) or not s["text"]:
            raise RichError("suggestion without text")


def _card(card: Any) -> None:
    if not isinstance(card, dict):
        raise RichError("a richcard must be an object")
    if not any(card.get(k) for k in ("title", "description", "file")):
        raise RichError("a richcard needs a title, description or file")
    if card.get("orientation", "vertical") not in ("horizontal", "vertical"):
        raise RichError("orientation must be horizontal or vertical")
    if "file" in card:
        _file(card["file"])
    if "suggestions" in card:
        _suggestions(card["suggestions"], MAX_CARD_SUGGESTIONS)


def _file(f: Any) -> None:
    if not isinstance(f, dict) or not isinstance(f.get("fileUrl"), str) or not f["fileUrl"]:
        raise RichError("a file needs a fileUrl")
    if f.get("height", "medium") not in ("short", "medium", "tall"):
        raise RichError("file height must be short, medium or tall")


def validate(obj: Mapping[str, Any]) -> None:
    """Check an RCS object: exactly one content, at most 11 suggestions; raise RichError if bad."""
    present = [k for k in CONTENT_KEYS if obj.get(k) not in (None, "")]
    if len(present) != 1:
        raise RichError("exactly one of text, richcard, carousel, file is required")
    unknown = set(obj) - {*CONTENT_KEYS, "suggestions"}
    if unknown:
        raise RichError(f"unknown keys {sorted(unknown)}")
    kind = present[0]
    value = obj[kind]
    if kind == "text":
        if not isinstance(value, str):
            raise RichError("text must be a string")
        if len(value) > MAX_TEXT:
            raise RichError("text too long", "401")
    elif kind == "richcard":
        _card(value)
    elif kind == "carousel":
        if not isinstance(value, dict) or value.get("width") not in ("SMALL", "MEDIUM"):
            raise RichError("carousel width must be SMALL or MEDIUM")
        cards = value.get("richcards")
        lo, hi = CAROUSEL_CARDS
        if not isinstance(cards, list) or not lo <= len(cards) <= hi:
            raise RichError(f"a carousel holds {lo} to {hi} richcards")
        for card in cards:
            _card(card)
    else:
        _file(value)
    if "suggestions" in obj:
        _suggestions(obj["suggestions"], MAX_SUGGESTIONS)
