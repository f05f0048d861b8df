"""Rich messages: the `[message]` tables for a rich card, a carousel, a file and suggestions.

The campaign file describes the RCS object in snake_case TOML; every text field may hold
`{column}` placeholders. Reading it yields a `RichSpec`: the object as a skeleton whose templated
strings are `Field`s, checked against the limits (one content type, at most 11 suggestions and
4 per card, 2 to 10 carousel cards, the fields each suggestion type needs, constant URLs well
formed). Per row, `merge_frame` merges every field at once and writes the object as compact JSON:
that string is what the journal keeps as the row's text, and `place` puts it into the request
where `rich_form` says (the gateway's place for it is unconfirmed: seven-gateway.md).

Field names follow seven's unmerged client change (unconfirmed); the length limits are Google
RBM's (seven documents none).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rcsbatch.errors import CampaignError
from rcsbatch.template import Template

if TYPE_CHECKING:  # only the per-row functions need them; they import them when called
    import numpy as np
    import pandas as pd

#: The three places the RCS object may go (`[message] rich_form`), and the name the simulator's
#: `rich_form` knob gives each: json_text is the docs' wording and the default.
RICH_FORMS = {"json_text": "json_text", "json_string": "form_string", "top_level": "top_level"}
DEFAULT_RICH_FORM = "json_text"
#: The keys of `[message]` this module reads (campaign.py reads the rest).
MESSAGE_KEYS = frozenset({"rich_form", "richcard", "carousel", "file", "suggestions"})
CONTENT_KEYS = ("text", "richcard", "carousel", "file")
SUGGESTION_TYPES = (
    "reply",
    "dial",
    "viewLocation",
    "createCalendarEvent",
    "openUrl",
    "shareLocation",
)
MAX_SUGGESTIONS = 11
MAX_CARD_SUGGESTIONS = 4
CAROUSEL_CARDS = (2, 10)
CAROUSEL_WIDTHS = ("SMALL", "MEDIUM")
ORIENTATIONS = ("vertical", "horizontal")
ALIGNMENTS = ("left", "right")
HEIGHTS = ("short", "medium", "tall")
# RBM's limits, in characters.
MAX_TITLE = 200
MAX_DESCRIPTION = 2000
MAX_SUGGESTION_TEXT = 25
MAX_POSTBACK = 2048
MAX_URL = 2048
# An absolute http(s) URL: a host, then optionally a path, query or fragment; no whitespace.
URL_RE = r"(?i:https?)://[^\s/?#@]+(?:[/?#]\S*)?"

# Which extra keys each suggestion type needs (all of them) and may have.
_SUGGESTION_NEEDS: dict[str, tuple[str, ...]] = {
    "reply": (),
    "dial": ("phone_number",),
    "viewLocation": ("location",),
    "createCalendarEvent": ("calendar_event",),
    "openUrl": ("url",),
    "shareLocation": (),
}


@dataclass(frozen=True)
class Field:
    """A templated string of the RCS object: its key in the campaign file and its rules."""

    key: str  # e.g. "richcard.suggestions[1].text", as error messages name it under `message.`
    template: Template
    max_length: int | None = None
    url: bool = False
    required: bool = True  # must not merge to an empty string


@dataclass(frozen=True)
class RichSpec:
    """A checked rich message: the RCS object with `Field`s for its templated strings."""

    form: str  # a key of RICH_FORMS
    content: str  # one of CONTENT_KEYS
    skeleton: Mapping[str, Any]
    fields: tuple[Field, ...]

    @property
    def templates(self) -> dict[str, Template]:
        """Every field's template, by key."""
        return {f.key: f.template for f in self.fields}


class _Parser:
    def __init__(
        self,
        path: Path,
        timezone: dt.tzinfo | None,
        moment: Callable[[Any, dt.tzinfo | None], dt.datetime],
    ) -> None:
        self.path = path
        self.timezone = timezone
        self.moment = moment
        self.fields: list[Field] = []

    def fail(self, key: str, problem: str) -> CampaignError:
        return CampaignError(f"{self.path}: `message.{key}` {problem}")

    def table(self, value: Any, key: str, allowed: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table, not {type(value).__name__}")
        for name in value:
            if name not in allowed:
                known = ", ".join(sorted(allowed))
                raise self.fail(f"{key}.{name}", f"is not a campaign setting (known here: {known})")
        return value

    def tables(self, value: Any, key: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(key, f"must be an array of tables (`[[message.{key}]]`)")
        return value

    def choice(
        self, table: Mapping[str, Any], key: str, name: str, options: tuple[str, ...]
    ) -> Any:
        value = table.get(name)
        if value is None:
            return None
        if not isinstance(value, str) or value not in options:
            raise self.fail(f"{key}.{name}", f"must be one of {', '.join(options)} (got {value!r})")
        return value

    def field(
        self,
        table: Mapping[str, Any],
        key: str,
        name: str,
        *,
        required: bool = False,
        max_length: int | None = None,
        url: bool = False,
    ) -> Field | None:
        """The templated string `table[name]` as a Field (None when absent and not required)."""
        full = f"{key}.{name}" if key else name
        if name not in table:
            if required:
                raise self.fail(full, "is required")
            return None
        value = table[name]
        if not isinstance(value, str):
            raise self.fail(full, f"must be a string, not {type(value).__name__}")
        if not value.strip():
            raise self.fail(full, "must not be empty")
        try:
            template = Template.parse(value)
        except ValueError as exc:
            raise self.fail(full, str(exc)) from None
        found = Field(full, template, max_length, url)
        if template.is_constant:
            # The same on every row: refuse it now rather than every row later.
            problem = check_value(found, template.literals[0])
            if problem:
                raise self.fail(full, problem)
        self.fields.append(found)
        return found

    # ---- content ---------------------------------------------------------------------------

    def file(self, value: Any, key: str, *, height: bool) -> dict[str, Any]:
        allowed = {"url", "thumbnail_url"} | ({"height"} if height else set())
        table = self.table(value, key, allowed)
        out: dict[str, Any] = {"fileUrl": self.field(table, key, "url", required=True, url=True)}
        thumbnail = self.field(table, key, "thumbnail_url", url=True)
        if thumbnail:
            out["thumbnailUrl"] = thumbnail
        size = self.choice(table, key, "height", HEIGHTS)
        if size:
            out["height"] = size
        return out

    def card(self, value: Any, key: str, *, standalone: bool) -> dict[str, Any]:
        allowed = {"title", "description", "file", "suggestions"}
        if standalone:
            allowed |= {"orientation", "thumbnail_alignment"}
        table = self.table(value, key, allowed)
        if not any(k in table for k in ("title", "description", "file")):
            raise self.fail(key, "needs a title, a description or a file")
        out: dict[str, Any] = {}
        title = self.field(table, key, "title", max_length=MAX_TITLE)
        if title:
            out["title"] = title
        description = self.field(table, key, "description", max_length=MAX_DESCRIPTION)
        if description:
            out["description"] = description
        orientation = self.choice(table, key, "orientation", ORIENTATIONS)
        if orientation:
            out["orientation"] = orientation
        alignment = self.choice(table, key, "thumbnail_alignment", ALIGNMENTS)
        if alignment:
            out["thumbnailImageAlignment"] = alignment
        if "file" in table:
            out["file"] = self.file(table["file"], f"{key}.file", height=True)
        if "suggestions" in table:
            out["suggestions"] = self.suggestions(
                table["suggestions"], f"{key}.suggestions", MAX_CARD_SUGGESTIONS
            )
        return out

    def carousel(self, value: Any, key: str) -> dict[str, Any]:
        table = self.table(value, key, {"width", "cards"})
        width = table.get("width", "MEDIUM")
        if not isinstance(width, str) or width.upper() not in CAROUSEL_WIDTHS:
            raise self.fail(f"{key}.width", f"must be SMALL or MEDIUM (got {width!r})")
        cards = self.tables(table.get("cards"), f"{key}.cards")
        lo, hi = CAROUSEL_CARDS
        if not lo <= len(cards) <= hi:
            raise self.fail(
                f"{key}.cards",
                f"must hold {lo} to {hi} cards (`[[message.{key}.cards]]`), not {len(cards)}",
            )
        return {
            "width": width.upper(),
            "richcards": [
                self.card(c, f"{key}.cards[{i}]", standalone=False) for i, c in enumerate(cards, 1)
            ],
        }

    # ---- suggestions -----------------------------------------------------------------------

    def suggestions(self, value: Any, key: str, limit: int) -> list[dict[str, Any]]:
        items = self.tables(value, key)
        if len(items) > limit:
            raise self.fail(key, f"holds {len(items)} suggestions; at most {limit} are allowed")
        return [self.suggestion(s, f"{key}[{i}]") for i, s in enumerate(items, 1)]

    def suggestion(self, value: Any, key: str) -> dict[str, Any]:
        every = {
            "type",
            "text",
            "postback_data",
            *(k for v in _SUGGESTION_NEEDS.values() for k in v),
        }
        table = self.table(value, key, every)
        kind = table.get("type")
        if kind is None:
            raise self.fail(f"{key}.type", f"is required: one of {', '.join(SUGGESTION_TYPES)}")
        if kind not in SUGGESTION_TYPES:
            raise self.fail(
                f"{key}.type", f"must be one of {', '.join(SUGGESTION_TYPES)} (got {kind!r})"
            )
        needs = _SUGGESTION_NEEDS[kind]
        for name in table:
            if name not in ("type", "text", "postback_data", *needs):
                raise self.fail(f"{key}.{name}", f"is not used by a {kind} suggestion")
        out: dict[str, Any] = {
            "type": kind,
            "text": self.field(table, key, "text", required=True, max_length=MAX_SUGGESTION_TEXT),
        }
        postback = self.field(table, key, "postback_data", max_length=MAX_POSTBACK)
        if postback:
            out["postbackData"] = postback
        if kind == "dial":
            out["phoneNumber"] = self.field(table, key, "phone_number", required=True)
        elif kind == "openUrl":
            out["url"] = self.field(table, key, "url", required=True, url=True)
        elif kind == "viewLocation":
            out["location"] = self.location(table.get("location"), f"{key}.location")
        elif kind == "createCalendarEvent":
            out["calendarEvent"] = self.calendar_event(
                table.get("calendar_event"), f"{key}.calendar_event"
            )
        return out

    def location(self, value: Any, key: str) -> dict[str, Any]:
        table = self.table(value, key, {"latitude", "longitude", "label", "query"})
        out: dict[str, Any] = {}
        has_point = "latitude" in table or "longitude" in table
        if not has_point and "query" not in table:
            raise self.fail(key, "needs latitude and longitude, or a query")
        if has_point:
            for name, bound in (("latitude", 90), ("longitude", 180)):
                number = table.get(name)
                if isinstance(number, bool) or not isinstance(number, (int, float)):
                    raise self.fail(f"{key}.{name}", "is required: a number of degrees")
                if not -bound <= number <= bound:
                    raise self.fail(f"{key}.{name}", f"must be between -{bound} and {bound}")
                out[name] = float(number)
        for name in ("label", "query"):
            found = self.field(table, key, name)
            if found:
                out[name] = found
        return out

    def calendar_event(self, value: Any, key: str) -> dict[str, Any]:
        table = self.table(value, key, {"title", "description", "start", "end"})
        out: dict[str, Any] = {"title": self.field(table, key, "title", required=True)}
        description = self.field(table, key, "description")
        if description:
            out["description"] = description
        moments = {}
        for name in ("start", "end"):
            raw = table.get(name)
            if raw is None:
                raise self.fail(f"{key}.{name}", "is required (same forms as `message.delay`)")
            if isinstance(raw, bool) or not isinstance(raw, (str, int, dt.datetime)):
                raise self.fail(f"{key}.{name}", "must be a date-time, a string or Unix seconds")
            try:
                moments[name] = self.moment(raw, self.timezone)
            except (ValueError, OverflowError) as exc:
                raise self.fail(f"{key}.{name}", str(exc)) from None
        if moments["end"] <= moments["start"]:
            raise self.fail(f"{key}.end", "must be after `start`")
        out["startTime"] = moments["start"].strftime("%Y-%m-%dT%H:%M:%SZ")
        out["endTime"] = moments["end"].strftime("%Y-%m-%dT%H:%M:%SZ")
        return out


def check_value(found: Field, value: str) -> str | None:
    """What is wrong with one merged value of `found`, or None."""
    if found.required and not value.strip():
        return "is empty"
    if found.max_length is not None and len(value) > found.max_length:
        return f"is longer than {found.max_length} characters ({len(value)})"
    if found.url:
        if len(value) > MAX_URL:
            return f"is longer than {MAX_URL} characters ({len(value)})"
        if re.fullmatch(URL_RE, value) is None:
            return f"is not an http(s) URL ({value[:80]!r})"
    return None


def parse_rich(
    table: Mapping[str, Any],
    path: Path,
    text: Template | None,
    timezone: dt.tzinfo | None,
    moment: Callable[[Any, dt.tzinfo | None], dt.datetime],
) -> RichSpec | None:
    """The rich content of the `[message]` table (None for a plain text message).

    `text` is the already parsed `message.text`; `moment` reads a date-time as `delay` is read.
    """
    p = _Parser(path, timezone, moment)
    form = table.get("rich_form", DEFAULT_RICH_FORM)
    if form not in RICH_FORMS:
        raise p.fail("rich_form", f"must be one of {', '.join(RICH_FORMS)} (got {form!r})")
    given = [k for k in CONTENT_KEYS if k in table]
    if len(given) > 1:
        raise p.fail(
            given[1],
            f"cannot go with `message.{given[0]}`: a message carries exactly one of text, "
            "richcard, carousel or file (suggestions may go with any)",
        )
    if not given:
        raise CampaignError(
            f"{path}: `[message]` needs its content: `text`, `[message.richcard]`, "
            "`[message.carousel]` or `[message.file]`"
        )
    content = given[0]
    if content == "text" and "suggestions" not in table:
        return None
    skeleton: dict[str, Any] = {}
    if content == "text":
        assert text is not None
        found = Field("text", text)
        p.fields.append(found)
        skeleton["text"] = found
    elif content == "richcard":
        skeleton["richcard"] = p.card(table["richcard"], "richcard", standalone=True)
    elif content == "carousel":
        skeleton["carousel"] = p.carousel(table["carousel"], "carousel")
    else:
        skeleton["file"] = p.file(table["file"], "file", height=False)
    if "suggestions" in table:
        skeleton["suggestions"] = p.suggestions(
            table["suggestions"], "suggestions", MAX_SUGGESTIONS
        )
    return RichSpec(form, content, skeleton, tuple(p.fields))


# ---- merging per row -----------------------------------------------------------------------


def _pieces(value: Any) -> Iterator[str | Field]:
    """The compact JSON of `value` as literal strings and Fields (each to be a JSON string)."""
    if isinstance(value, Field):
        yield '"'
        yield value
        yield '"'
    elif isinstance(value, Mapping):
        yield "{"
        for i, (k, v) in enumerate(value.items()):
            yield ("," if i else "") + json.dumps(k) + ":"
            yield from _pieces(v)
        yield "}"
    elif isinstance(value, list):
        yield "["
        for i, v in enumerate(value):
            if i:
                yield ","
            yield from _pieces(v)
        yield "]"
    else:
        yield json.dumps(value, ensure_ascii=False)


_CONTROL = r"[\x00-\x1f]"


def _json_escape(series: pd.Series) -> pd.Series:
    """Each string as the inside of a JSON string literal (as json.dumps with ensure_ascii off)."""
    import numpy as np

    out = series.str.replace("\\", "\\\\", regex=False).str.replace('"', '\\"', regex=False)
    control = out.str.contains(_CONTROL, regex=True).to_numpy(dtype=bool, na_value=False)
    if control.any():
        # Rare: escape those rows one by one, exactly as json.dumps would.
        escaped = [json.dumps(v)[1:-1] for v in series[control].tolist()]
        out = out.copy()
        out.iloc[np.flatnonzero(control)] = escaped  # type: ignore[call-overload]
    return out


def merge_frame(spec: RichSpec, merged: Mapping[str, pd.Series], index: pd.Index) -> pd.Series:
    """Each row's RCS object as compact JSON, from its merged fields (`merged[field.key]`)."""
    import pandas as pd

    literal: list[str] = []
    result: pd.Series | None = None
    for piece in _pieces(spec.skeleton):
        if isinstance(piece, str):
            literal.append(piece)
            continue
        prefix = "".join(literal)
        literal = []
        value = _json_escape(merged[piece.key])
        part = prefix + value if prefix else value
        result = part if result is None else result + part
    tail = "".join(literal)
    if result is None:
        return pd.Series(tail, index=index, dtype="str")
    return result + tail if tail else result


def check_frame(
    spec: RichSpec, merged: Mapping[str, pd.Series], ok: np.ndarray, reason: np.ndarray
) -> np.ndarray:
    """Mark rows whose merged fields break a rule (empty, too long, not a URL) with the reason;
    returns the mask of rows still fine. Constant fields were checked when the file was read."""
    import numpy as np

    for found in spec.fields:
        if found.template.is_constant:
            continue
        values = merged[found.key]
        bad = np.zeros(len(values), dtype=bool)
        if found.required:
            bad |= (values.str.strip() == "").to_numpy(dtype=bool, na_value=True)
        limit = MAX_URL if found.url else found.max_length
        if limit is not None:
            bad |= (values.str.len() > limit).to_numpy(dtype=bool, na_value=True)
        if found.url:
            matches = values.str.fullmatch(URL_RE).to_numpy(dtype=bool, na_value=False)
            bad |= ~matches
        bad &= ok
        if bad.any():
            at = np.flatnonzero(bad)
            reason[at] = [
                f"the merged `message.{found.key}` {check_value(found, v)}"
                for v in values.iloc[at].tolist()
            ]
            ok = ok & ~bad
    return ok


# ---- the request ---------------------------------------------------------------------------


def place(params: dict[str, Any], text: str, form: str) -> None:
    """Put a row's RCS object (`text`: its compact JSON, as merged) into the request `params`.

    json_text: the object as `text` (the docs' wording); json_string: the JSON string itself as
    `text`; top_level: its keys beside `to` (a text content stays `text`). A `text` that is not
    an RCS object (a row journaled before the campaign became rich) goes as plain text.
    """
    try:
        obj = json.loads(text)
    except ValueError:
        obj = None
    if not isinstance(obj, dict) or not any(k in obj for k in (*CONTENT_KEYS, "suggestions")):
        params["text"] = text
        return
    if form == "json_text":
        params["text"] = obj
    elif form == "json_string":
        params["text"] = text
    else:
        params.update(obj)
