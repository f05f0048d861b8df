"""Rich messages: the `[message]` tables for a rich card, a carousel, a file and suggestions.

The campaign file describes the RCS object in snake_case TOML; every text field may hold
`{column}` placeholders. Reading it yields a `RichSpec`: the object as a skeleton whose templated
strings are `Field`s, checked against the campaign's `Limits` (one content type, suggestions per
message and per card, 2 cards to `carousel_cards`, the fields each suggestion type needs,
constant values within their limits, constant URLs well formed). Per row, `merge_frame` merges
every field at once and writes the object as compact JSON: that string is what the journal keeps
as the row's text, and `place` puts it into the request where `rich_form` says (the gateway's
place for it is unconfirmed: seven-gateway.md).

A placeholder in a URL is percent-encoded for the part of the URL it lands in (`url_parts`);
one forming the scheme or host (or the whole URL) goes in as it is, and the merged URL is checked.

Field names follow seven's unmerged client change (unconfirmed); the limits are RBM's defaults
(seven documents none; see campaign/limits.py).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from rcsbatch.campaign.limits import UNITS, Limits, size
from rcsbatch.campaign.template import Template
from rcsbatch.errors import CampaignError

if TYPE_CHECKING:  # only the per-row functions need them; they import them when called
    import numpy as np
    import pandas as pd

#: The three places the RCS object may go (`[message] rich_form`), and the name the simulator's
#: `rich_form` knob gives each: json_text is the docs' wording and the default.
RICH_FORMS = {"json_text": "json_text", "json_string": "form_string", "top_level": "top_level"}
DEFAULT_RICH_FORM = "json_text"
#: The keys of `[message]` this module reads (campaign/file.py reads the rest).
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
MIN_CAROUSEL_CARDS = 2
CAROUSEL_WIDTHS = ("SMALL", "MEDIUM")
ORIENTATIONS = ("vertical", "horizontal")
ALIGNMENTS = ("left", "right")
HEIGHTS = ("short", "medium", "tall")
# An absolute http(s) URL: a host (a name, or an IPv6 address in brackets) and an optional port,
# then optionally a path, query or fragment; no whitespace.
URL_RE = r"(?i:https?)://(?:[^\s/?#@\[\]:]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?(?:[/?#]\S*)?"
# Where such a URL has a port or an IPv6 address: only then does urlsplit have more to refuse.
_PORT_OR_IPV6 = r"^[^:]*://(?:\[|[^/?#]*:)"

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
    limit: str | None = None  # the key of `Limits` its length is held to
    max_length: int | None = None  # that limit's value, in UNITS[limit]
    url: bool = False
    required: bool = True  # must not merge to an empty string
    # A URL field's placeholders: the part of the URL each lands in (see url_parts).
    parts: tuple[str, ...] = ()

    def merge(self, frame: pd.DataFrame) -> pd.Series:
        """Merge every row of `frame`, each URL placeholder encoded for its part of the URL."""
        if not self.url:
            return self.template.render_frame(frame)
        return self.template.render_frame(frame, [_ENCODERS.get(p) for p in self.parts])


@dataclass(frozen=True)
class RichSpec:
    """A checked rich message: the RCS object with `Field`s for its templated strings."""

    form: str  # a key of RICH_FORMS
    content: str  # one of CONTENT_KEYS
    skeleton: Mapping[str, Any]
    fields: tuple[Field, ...]
    limits: Limits = field(default_factory=Limits)

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
        limits: Limits,
    ) -> None:
        self.path = path
        self.limits = limits
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
        limit: str | None = None,
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
        if url:
            limit = "url"
        max_length = getattr(self.limits, limit) if limit else None
        parts = url_parts(template) if url else ()
        found = Field(full, template, limit, max_length, url, parts=parts)
        self.check_template(found)
        self.fields.append(found)
        return found

    def check_template(self, found: Field) -> None:
        """Refuse now what would make every row invalid later."""
        template = found.template
        if found.limit and found.max_length is not None:
            length = size("".join(template.literals), UNITS[found.limit])
            if length > found.max_length:
                without = "" if template.is_constant else " without its placeholders"
                raise self.fail(
                    found.key,
                    self.limits.reason("is", found.limit, length, after=without)
                    + ", so every row would be over it",
                )
        problem = (
            check_value(found, template.literals[0], self.limits)
            if template.is_constant
            else url_template_problem(template)
            if found.url
            else None
        )
        if problem:
            raise self.fail(found.key, problem)

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
        title = self.field(table, key, "title", limit="card_title")
        if title:
            out["title"] = title
        description = self.field(table, key, "description", limit="card_description")
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
                table["suggestions"], f"{key}.suggestions", "card_suggestions"
            )
        return out

    def carousel(self, value: Any, key: str) -> dict[str, Any]:
        table = self.table(value, key, {"width", "cards"})
        width = table.get("width", "MEDIUM")
        if not isinstance(width, str) or width.upper() not in CAROUSEL_WIDTHS:
            raise self.fail(f"{key}.width", f"must be SMALL or MEDIUM (got {width!r})")
        cards = self.tables(table.get("cards"), f"{key}.cards")
        if len(cards) < MIN_CAROUSEL_CARDS:
            raise self.fail(
                f"{key}.cards",
                f"must hold at least {MIN_CAROUSEL_CARDS} cards (`[[message.{key}.cards]]`), "
                f"not {len(cards)}",
            )
        if len(cards) > self.limits.carousel_cards:
            raise self.fail(
                f"{key}.cards", self.limits.reason("holds", "carousel_cards", len(cards))
            )
        return {
            "width": width.upper(),
            "richcards": [
                self.card(c, f"{key}.cards[{i}]", standalone=False) for i, c in enumerate(cards, 1)
            ],
        }

    # ---- suggestions -----------------------------------------------------------------------

    def suggestions(self, value: Any, key: str, limit: str) -> list[dict[str, Any]]:
        items = self.tables(value, key)
        if len(items) > getattr(self.limits, limit):
            raise self.fail(key, self.limits.reason("holds", limit, len(items)))
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
            "text": self.field(table, key, "text", required=True, limit="suggestion_text"),
        }
        postback = self.field(table, key, "postback_data", limit="postback_data")
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


def check_value(found: Field, value: str, limits: Limits) -> str | None:
    """What is wrong with one merged value of `found`, or None."""
    if found.required and not value.strip():
        return "is empty"
    if found.limit and found.max_length is not None:
        length = size(value, UNITS[found.limit])
        if length > found.max_length:
            return limits.reason("is", found.limit, length)
    if found.url:
        return url_problem(value)
    return None


# ---- URLs ----------------------------------------------------------------------------------

#: The parts of a URL a placeholder may land in. AS_IS: the scheme, host or port (or the whole
#: URL): inserted unencoded, the merged URL checked instead.
AS_IS, PATH, QUERY, FRAGMENT = "as is", "path segment", "query", "fragment"
#: What each part keeps unencoded besides A-Z a-z 0-9 - . _ ~ and valid %XX escapes: characters
#: legal there that no common server reads as a delimiter of that part. A path segment keeps no
#: `/` (a value stays one segment), `;` (matrix parameters) or `+` (read as a space by some); a
#: query name or value and a fragment (single-page apps keep a query in it) no `& = + ; #`.
SAFE = {PATH: ":@!$'()*,", QUERY: "/?:@!$'()*,", FRAGMENT: "/?:@!$'()*,"}
_UNRESERVED = r"[A-Za-z0-9._~\-]*"
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def encode_component(value: str, part: str) -> str:
    """`value` percent-encoded for `part` of a URL (UTF-8, a space as %20).

    A `%` that starts a valid escape (`%` and two hex digits) is kept: a value already encoded,
    wholly or in part, is not encoded twice. Any other `%` becomes `%25`.
    """
    # quote() leaves every % alone here, so the stray ones are found (and fixed) afterwards: a
    # valid escape in the result is one of the value's own or one quote() wrote.
    encoded = quote(value, safe=SAFE[part] + "%")
    return _STRAY_PERCENT.sub("%25", encoded) if "%" in value else encoded


def _encoder(part: str) -> Callable[[pd.Series], pd.Series]:
    def encode(values: pd.Series) -> pd.Series:
        import numpy as np

        # Most values (codes, ids) need nothing: only the others are encoded one by one.
        plain = values.str.fullmatch(_UNRESERVED).to_numpy(dtype=bool, na_value=True)
        if plain.all():
            return values
        at = np.flatnonzero(~plain)
        out = values.copy()
        out.iloc[at] = [encode_component(v, part) for v in values.iloc[at].tolist()]
        return out

    return encode


_ENCODERS = {part: _encoder(part) for part in SAFE}


def url_parts(template: Template) -> tuple[str, ...]:
    """The part of the URL each placeholder of `template` lands in, read from the text before it.

    Before `://` a placeholder is (part of) the scheme or the whole URL; after it, until the
    first `/ ? #`, the host. Both go in as they are. After a placeholder that may hold a whole
    URL, `/` starts a path, `?` or `&` or `=` a query and `#` a fragment (`{link}&ref={code}`
    appends to the link's query).
    """
    parts: list[str] = []
    state = "start"  # start | host | base (after a whole-URL placeholder) | a part
    for literal, _ in zip(template.literals, template.fields, strict=False):
        state = _url_state(state, literal)
        if state in ("start", "host", "base"):
            parts.append(AS_IS)
            if state == "start":
                state = "base"
        else:
            parts.append(state)
    return tuple(parts)


def _url_state(state: str, literal: str) -> str:
    if state in ("start", "base") and "://" in literal:
        state, literal = "host", literal.split("://", 1)[1]
    elif state == "start":
        return state
    for ch in literal:
        if state in ("host", "base"):
            if ch == "/":
                state = PATH
            elif ch == "?" or (state == "base" and ch in "&="):
                state = QUERY
            elif ch == "#":
                state = FRAGMENT
        elif state == PATH and ch in "?#":
            state = QUERY if ch == "?" else FRAGMENT
        elif state == QUERY and ch == "#":
            state = FRAGMENT
    return state


def url_template_problem(template: Template) -> str | None:
    """What is wrong with a URL template whatever its placeholders hold, or None."""
    if any(re.search(r"\s", literal) for literal in template.literals):
        return "holds a space or line break outside its placeholders; write it as %20"
    first = template.literals[0].lower()
    schemes = ("http://", "https://")
    if first and not (first.startswith(schemes) or any(s.startswith(first) for s in schemes)):
        return (
            f"must start with http:// or https:// (or a placeholder holding the whole URL), "
            f"not {template.literals[0][:40]!r}"
        )
    return None


def url_problem(value: str) -> str | None:
    """What is wrong with a merged URL (not an absolute http(s) URL urllib can read), or None."""
    if re.fullmatch(URL_RE, value) is None:
        return f"is not an http(s) URL ({value[:80]!r})"
    if re.match(_PORT_OR_IPV6, value):
        try:
            urlsplit(value).port  # noqa: B018 (reading it checks it)
        except ValueError as exc:
            return f"is not an http(s) URL ({value[:80]!r}: {exc})"
    return None


def parse_rich(
    table: Mapping[str, Any],
    path: Path,
    text: Template | None,
    timezone: dt.tzinfo | None,
    moment: Callable[[Any, dt.tzinfo | None], dt.datetime],
    limits: Limits,
) -> RichSpec | None:
    """The rich content of the `[message]` table (None for a plain text message).

    `text` is the already parsed `message.text` (its length recipients/prepare.py checks, as for a
    plain text); `moment` reads a date-time as `delay` is read.
    """
    p = _Parser(path, timezone, moment, limits)
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
        skeleton["suggestions"] = p.suggestions(table["suggestions"], "suggestions", "suggestions")
    return RichSpec(form, content, skeleton, tuple(p.fields), limits)


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
    """Mark rows whose merged fields break a rule (empty, over a limit, not a URL) with the
    reason; returns the mask of rows still fine. Constant fields were checked when the file was
    read."""
    import numpy as np

    from rcsbatch.campaign.limits import sizes

    for found in spec.fields:
        if found.template.is_constant:
            continue
        values = merged[found.key]
        bad = np.zeros(len(values), dtype=bool)
        if found.required:
            bad |= (values.str.strip() == "").to_numpy(dtype=bool, na_value=True)
        if found.limit and found.max_length is not None:
            bad |= sizes(values, UNITS[found.limit]) > found.max_length
        if found.url:
            bad |= ~values.str.fullmatch(URL_RE).to_numpy(dtype=bool, na_value=False)
            # A port or an IPv6 address: urllib has the last word, row by row (rare).
            found_odd = values.str.match(_PORT_OR_IPV6).to_numpy(dtype=bool, na_value=False)
            odd = found_odd & ok & ~bad
            if odd.any():
                at = np.flatnonzero(odd)
                bad[at] = [url_problem(v) is not None for v in values.iloc[at].tolist()]
        bad &= ok
        if bad.any():
            at = np.flatnonzero(bad)
            reason[at] = [
                f"the merged `message.{found.key}` {check_value(found, v, spec.limits)}"
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
