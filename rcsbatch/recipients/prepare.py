"""Check and merge the rows of a recipient file, chunk by chunk, before anything is sent.

For each row: normalise the number (invalid when it cannot be, or when its type is not one the
campaign sends to and no capability lookup shows it can receive RCS), drop it when it is in the
suppress list, merge the text, label and foreign_id (invalid when a needed cell is empty with no
default, or the result breaks the gateway's rules or holds a control character other than LF
and TAB), and mark later rows of a recipient already seen `duplicate`. Rows that pass are `ready`
(some with a warning, see `phones.check_one`). All of it is vectorised per chunk; memory grows
only by 16 bytes per distinct recipient (for finding duplicates). A rich message's text fields are
merged and checked the same way, and the row's text becomes its RCS object as compact JSON (see
`richcontent`).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from rcsbatch.campaign import rich
from rcsbatch.campaign.file import Campaign
from rcsbatch.campaign.limits import UNITS, sizes
from rcsbatch.errors import RecipientsError
from rcsbatch.gateway.request import SendSettings, bodies_over
from rcsbatch.recipients import phones
from rcsbatch.recipients.controls import CONTROL_RE, control_name, first_control, visible
from rcsbatch.recipients.read import RecipientFile, open_recipients, read_numbers_column
from rcsbatch.state.status import RowStatus

log = logging.getLogger("rcsbatch.prepare")

LABEL_RE = r"[A-Za-z0-9.\-_@]{1,100}"
FOREIGN_ID_RE = r"[A-Za-z0-9.\-_@]{1,64}"
MAX_RUN = 1 << 20
STATUSES: list[RowStatus] = ["ready", "invalid", "suppressed", "duplicate"]
READY, INVALID, SUPPRESSED, DUPLICATE = range(4)
# A derived foreign_id: 37 characters of the name, 10 hex digits of its hash, up to 15 digits of
# the number and two dots make at most 64.
FOREIGN_ID_PREFIX = 37
FOREIGN_ID_HASH = 10

COLUMNS = [
    "recipient",
    "status",
    "reason",
    "text",
    "label",
    "foreign_id",
    "input_phone",
    "warning",
    "warning_kind",
]
#: The warning kind of a number of a refused type that is sent because a lookup shows RCS.
BY_LOOKUP = "lookup"


@dataclass(frozen=True)
class Plan:
    """An opened campaign input: the recipient file, its checked columns, the suppress list."""

    campaign: Campaign
    file: RecipientFile
    suppress: np.ndarray  # sorted unique int64 recipients
    # Sorted recipients whose recent capability lookup shows RCS: sent whatever their type.
    capable: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))

    def chunks(self) -> Iterator[pd.DataFrame]:
        """Yield checked chunks: COLUMNS, indexed by row, `status` one of ready/invalid/…"""
        seen = SeenNumbers()
        c = self.campaign
        wanted = [c.phone_column, *sorted(c.message.columns)]
        for chunk in self.file.chunks(wanted):
            yield check_chunk(chunk, c, self.suppress, seen, self.capable)

    def with_capable(self, capable: np.ndarray) -> Plan:
        """This plan, sending also to the `capable` recipients whatever their number type."""
        return replace(self, capable=np.unique(np.asarray(capable, np.int64)))

    def refused_types(self) -> list[int]:
        """The distinct recipients refused only for their number type, in file order: those a
        capability lookup may let go."""
        found: dict[int, None] = {}
        c = self.campaign
        for chunk in self.file.chunks([c.phone_column]):
            checked = phones.check_many(chunk[c.phone_column], c.default_region, c.number_types)
            found.update(dict.fromkeys(checked.number[checked.refused_type].tolist()))
        return list(found)


def open_plan(campaign: Campaign) -> Plan:
    """Open the recipient file and suppress list, and check that every named column exists."""
    file = open_recipients(
        campaign.recipients,
        sheet=campaign.sheet,
        encoding=campaign.encoding,
        locale=campaign.locale,
        raw=campaign.raw_columns,
    )
    file.require([campaign.phone_column], "`phone_column`")
    file.require(campaign.raw_columns, "`raw_columns`")
    for key, template in campaign.message.templates.items():
        file.require(template.fields, f"a placeholder in `message.{key}`")
    suppress = load_suppress(campaign) if campaign.suppress else np.empty(0, np.int64)
    return Plan(campaign, file, suppress)


def load_suppress(campaign: Campaign) -> np.ndarray:
    """The suppress list's numbers, normalised, sorted and unique.

    An entry that is not a number refuses the run (unless `suppress_invalid = "ignore"`): it is
    someone's opt-out we could not honour. Empty cells are no entry; a header-only list is empty.
    Bare digits that read two ways (`436641234567`: a German landline, or an Austrian mobile
    whose `00` a spreadsheet dropped) suppress both readings, whatever their type: the
    recipient file may write the same person with `+`, and an opt-out must never be missed.
    """
    assert campaign.suppress is not None
    if not campaign.suppress.exists():
        raise RecipientsError(f"{campaign.suppress}: no such file (named by `suppress`)")
    file = open_recipients(campaign.suppress, encoding=campaign.encoding, locale=campaign.locale)
    found = [np.empty(0, np.int64)]
    if len(file.columns) == 1:
        # A list without a header: its first line is a number, not a column name.
        first = _readings(pd.Series([file.columns[0]], dtype="str"), campaign.default_region)
        found.extend(first)
    bad_lines: list[int] = []  # row numbers are the lines a person sees in the file
    bad_count = 0
    for column in read_numbers_column(file):
        read, other = _readings(column, campaign.default_region)
        found.extend((read, other))
        bad = (read == 0) & column.notna().to_numpy()
        bad_count += int(bad.sum())
        bad_lines.extend(column.index[bad][: SHOWN_BAD - len(bad_lines)].tolist())
    if bad_count and campaign.suppress_invalid == "refuse":
        shown = ", ".join(str(n) for n in bad_lines)
        more = f" and {bad_count - len(bad_lines)} more" if bad_count > len(bad_lines) else ""
        raise RecipientsError(
            f"{file.path.name}: {bad_count} entr{'y is' if bad_count == 1 else 'ies are'} "
            f"not a phone number (line {shown}{more}); those people's opt-outs would be lost. "
            'Fix the list, or set `suppress_invalid = "ignore"` in the campaign file to skip them'
        )
    every = np.unique(np.concatenate(found))
    numbers: np.ndarray = every[every != 0]
    if not numbers.size and not bad_count and "phone" not in map(str.lower, file.columns):
        # A header-only list is fine (nobody opted out yet), but one whose column is not
        # `phone` may be the wrong file (an `email` list): said, not refused, as no opt-out
        # can be lost from an empty list.
        log.warning(
            "the suppress list %s holds no number, and its column is `%s`, not `phone`: "
            "nobody is suppressed; is it the right file?",
            visible(file.path.name),
            visible("`, `".join(file.columns)),
        )
    return numbers


SHOWN_BAD = 10  # lines named when a suppress list has entries that are not numbers


def _readings(column: pd.Series, region: str) -> tuple[np.ndarray, np.ndarray]:
    """Each cell's number as a recipient file would read it (0 when none), and its other
    reading when bare digits read two ways (0 when none)."""
    checked = phones.check_many(column, region, frozenset(phones.NUMBER_TYPES))
    return checked.number, checked.other


class SeenNumbers:
    """Recipients seen so far with the row that first had them, as sorted runs of numbers.

    Runs are merged when they grow alike in size, up to MAX_RUN numbers each (merging larger
    ones would briefly hold two copies of the largest), so lookups touch few runs, and memory is
    12 bytes per distinct recipient (int64 number, int32 row): a set of Python ints would take
    several times that.
    """

    def __init__(self) -> None:
        self.runs: list[tuple[np.ndarray, np.ndarray]] = []

    def first_rows(self, numbers: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """For each number, the row that had it first (0 where this is the first), and remember."""
        first = np.zeros(len(numbers), np.int64)
        if not len(numbers):
            return first
        # Search in sorted order: far kinder to the cache than random probes of a large run.
        order = np.argsort(numbers, kind="stable")
        ordered = numbers[order]
        first_ordered = np.zeros(len(numbers), np.int64)
        for known, known_rows in self.runs:
            at = np.searchsorted(known, ordered)
            at[at == len(known)] = 0
            hit = (known[at] == ordered) & (first_ordered == 0)
            first_ordered[hit] = known_rows[at[hit]]
        first[order] = first_ordered
        starts = np.r_[True, ordered[1:] != ordered[:-1]]
        group_start = np.maximum.accumulate(np.where(starts, np.arange(len(ordered)), 0))
        earlier_row = rows[order][group_start]
        repeat = order[~starts]
        first[repeat] = np.where(first[repeat] == 0, earlier_row[~starts], first[repeat])
        new = starts & (first[order] == 0)
        self._add(ordered[new], rows[order][new].astype(np.int32))
        return first

    def _add(self, numbers: np.ndarray, rows: np.ndarray) -> None:
        if not len(numbers):
            return
        self.runs.append((numbers, rows))
        while (
            len(self.runs) > 1
            and len(self.runs[-2][0]) <= 2 * len(self.runs[-1][0])
            and len(self.runs[-2][0]) + len(self.runs[-1][0]) <= MAX_RUN
        ):
            (a, a_rows), (b, b_rows) = self.runs[-2], self.runs[-1]
            # Both are sorted and disjoint: insert the smaller into the larger, no full re-sort
            # (a merge by argsort would hold several temporary copies of the larger run).
            if len(a) < len(b):
                (a, a_rows), (b, b_rows) = (b, b_rows), (a, a_rows)
            at = np.searchsorted(a, b)
            self.runs[-2:] = [(np.insert(a, at, b), np.insert(a_rows, at, b_rows))]


def _empty_cell_reason(
    frame: pd.DataFrame, fields: set[str], ok: np.ndarray, reason: np.ndarray, where: dict[str, str]
) -> np.ndarray:
    """Mark rows whose needed cell is empty; returns the mask of rows that are still fine."""
    for name in sorted(fields):
        empty = frame[name].isna().to_numpy() & ok
        if empty.any():
            reason[empty] = f"empty cell in column `{name}` (needed by {where[name]})"
            ok = ok & ~empty
    return ok


def _control_reason(merged: dict[str, pd.Series], ok: np.ndarray, reason: np.ndarray) -> np.ndarray:
    """Mark rows whose merged text, label, foreign_id or rich field holds a control character
    (but LF and TAB): a NUL or ESC in a message is a mistake in the file, never wanted text, and
    would reach the recipient's phone. Returns the mask of rows still fine."""
    for key in sorted(merged):
        found = merged[key].str.contains(CONTROL_RE, regex=True)
        bad = found.to_numpy(dtype=bool, na_value=False) & ok
        if bad.any():
            at = np.flatnonzero(bad)
            # Only the few bad rows are looked at one by one, to name their character.
            reason[at] = [
                f"{key} contains a control character {control_name(first_control(v) or '')}; "
                "remove it"
                for v in merged[key].iloc[at].tolist()
            ]
            ok = ok & ~bad
    return ok


def _text_length_reason(
    campaign: Campaign, text: pd.Series, ok: np.ndarray, reason: np.ndarray
) -> np.ndarray:
    """Mark rows whose merged text is over `limits.text` (or, with an SMS fallback, over
    `limits.sms_fallback`), in characters; returns the mask of rows still fine."""
    limits = campaign.limits
    lengths = sizes(text, UNITS["text"])
    checks = [("text", "")]
    if campaign.message.fallback == "sms":
        checks.append(("sms_fallback", " for an SMS fallback"))
    for key, to in checks:
        bad = (lengths > getattr(limits, key)) & ok
        if bad.any():
            at = np.flatnonzero(bad)
            reason[at] = [limits.reason("text is", key, int(n), to=to) for n in lengths[at]]
            ok = ok & ~bad
    return ok


def _payload_reason(
    campaign: Campaign,
    numbers: np.ndarray,
    merged: dict[str, pd.Series],
    ok: np.ndarray,
    reason: np.ndarray,
) -> np.ndarray:
    """Mark rows whose request body would be over `limits.payload` bytes; returns the mask of
    rows still fine."""
    at = np.flatnonzero(ok)
    if not len(at):
        return ok
    label = merged.get("label")
    over = bodies_over(
        SendSettings.of(campaign),
        campaign.limits.payload,
        numbers[at],
        merged["text"].iloc[at],
        label.iloc[at] if label is not None else None,
        merged["foreign_id"].iloc[at],
    )
    if not over:
        return ok
    ok = ok.copy()
    for i, found in over.items():
        reason[at[i]] = campaign.limits.reason("the request body is", "payload", found)
        ok[at[i]] = False
    return ok


def foreign_id_prefix(campaign_name: str) -> str:
    """The part of a derived foreign_id before the recipient: a readable prefix of the name and
    a hash of the whole name, so two long names that share their first characters (`…-wave1`,
    `…-wave2`) never share foreign_ids."""
    digest = hashlib.sha256(campaign_name.encode()).hexdigest()[:FOREIGN_ID_HASH]
    return f"{campaign_name[:FOREIGN_ID_PREFIX]}.{digest}."


def derived_foreign_id(campaign_name: str, recipient: int) -> str:
    """The foreign_id a message carries when the campaign gives none:
    `<name's first 37 characters>.<10 hex digits of its hash>.<recipient>`, per campaign and
    recipient (row numbers change when a file is edited), so the logbook entry of each message
    can be told from other campaigns' (at most 64 of A-Z a-z 0-9 . - _ @, as seven requires)."""
    return f"{foreign_id_prefix(campaign_name)}{recipient}"


def legacy_foreign_id(campaign_name: str, recipient: int) -> str:
    """The derived foreign_id of rcsbatch before 0.2 (the name cut to 48 characters)."""
    return f"{campaign_name[:48]}.{recipient}"


def derived_foreign_ids(campaign_name: str, numbers: np.ndarray, index: pd.Index) -> pd.Series:
    """`derived_foreign_id` for a chunk's recipients; empty where the number is invalid (0)."""
    ids = pd.Series(numbers, index=index).astype("str")
    ids = foreign_id_prefix(campaign_name) + ids
    return ids.where(numbers != 0, pd.NA)


def check_chunk(
    chunk: pd.DataFrame,
    campaign: Campaign,
    suppress: np.ndarray,
    seen: SeenNumbers,
    capable: np.ndarray | None = None,
) -> pd.DataFrame:
    """Decide every row of one chunk; see the module docstring for the order of the checks.

    Text columns stay Arrow-backed and `status` is categorical: turning a million merged texts
    into Python objects would cost more than the checks themselves.
    """
    m = campaign.message
    n = len(chunk)
    rows = chunk.index.to_numpy(np.int64)
    raw = chunk[campaign.phone_column]
    checked = phones.check_many(raw, campaign.default_region, campaign.number_types)
    numbers = checked.number
    status = np.zeros(n, np.int8)  # codes into STATUSES
    reason = checked.reason.copy()
    warning = checked.warning.copy()
    warning_kind = checked.warning_kind.copy()
    if capable is not None and len(capable) and checked.refused_type.any():
        # A lookup showing RCS outweighs the type: the number is sent, with a word why.
        lifted = checked.refused_type & np.isin(numbers, capable)
        warning[lifted] = [
            f"{_refused_as(r)}, sent: a capability lookup shows it can receive RCS"
            for r in reason[lifted]
        ]
        warning_kind[lifted] = BY_LOOKUP
        reason[lifted] = None

    invalid = pd.notna(reason)
    status[invalid] = INVALID
    # Bare digits that read two ways may mean the person of either reading.
    listed = np.isin(numbers, suppress) | ((checked.other != 0) & np.isin(checked.other, suppress))
    suppressed = ~invalid & listed
    status[suppressed] = SUPPRESSED
    reason[suppressed] = "in the suppress list"
    ok = ~invalid & ~suppressed

    templates = m.templates
    where: dict[str, str] = {}
    for key, template in templates.items():
        for name in template.fields:
            where.setdefault(name, f"`message.{key}`")
    filled = chunk[list(where)].copy() if where else pd.DataFrame(index=chunk.index)
    for name, value in m.defaults.items():
        if name in filled:
            filled[name] = filled[name].fillna(value)
    ok = _empty_cell_reason(filled, set(where), ok, reason, where)

    merged: dict[str, pd.Series] = {}
    blank = filled.fillna("")
    rich_fields = {f.key: f for f in m.rich.fields} if m.rich is not None else {}
    for key, template in templates.items():
        # A rich field merges itself: a URL's placeholders are percent-encoded.
        rich_field = rich_fields.get(key)
        rendered = rich_field.merge(blank) if rich_field else template.render_frame(blank)
        merged[key] = rendered.astype("str")
    if "text" in merged:
        text_empty = (merged["text"].str.strip() == "").to_numpy(dtype=bool) & ok
        reason[text_empty] = "the merged text is empty"
        ok &= ~text_empty
    ok = _control_reason(merged, ok, reason)
    if "text" in merged and not templates["text"].is_constant:
        ok = _text_length_reason(campaign, merged["text"], ok, reason)
    if m.rich is not None:
        # The row's text becomes its merged RCS object (JSON): what the journal keeps and sends.
        ok = rich.check_frame(m.rich, merged, ok, reason)
        merged["text"] = rich.merge_frame(m.rich, merged, chunk.index)
    for key, pattern, rule in (
        ("label", LABEL_RE, "at most 100 of A-Z a-z 0-9 . - _ @"),
        ("foreign_id", FOREIGN_ID_RE, "at most 64 of A-Z a-z 0-9 . - _ @"),
    ):
        if key in merged:
            if templates[key].is_constant:
                # The same value on every row: check it once.
                matches = re.fullmatch(pattern, templates[key].literals[0]) is not None
                bad = ok & (not matches)
            else:
                found = merged[key].str.fullmatch(pattern)
                bad = ~found.to_numpy(dtype=bool, na_value=False) & ok
            if bad.any():
                reason[bad] = f"the merged {key} breaks the gateway's rule ({rule})"
                ok &= ~bad
    index = chunk.index
    if "foreign_id" not in merged:
        merged["foreign_id"] = derived_foreign_ids(campaign.name, numbers, index)
    ok = _payload_reason(campaign, numbers, merged, ok, reason)
    status[(status == READY) & ~ok] = INVALID
    warning[status != READY] = None
    warning_kind[status != READY] = None

    first = seen.first_rows(numbers[ok], rows[ok])
    dup_rows = np.flatnonzero(ok)[first != 0]
    status[dup_rows] = DUPLICATE
    reason[dup_rows] = np.array(
        [f"same recipient as row {r}" for r in first[first != 0]], dtype=object
    )

    none = pd.Series(pd.NA, index=index, dtype="str")
    return pd.DataFrame(
        {
            "recipient": numbers,
            "status": pd.Categorical.from_codes(status, pd.Index(STATUSES)),
            "reason": pd.Series(reason, index=index, dtype=object),
            "text": merged["text"],
            "label": merged.get("label", none),
            "foreign_id": merged.get("foreign_id", none),
            "input_phone": raw,
            "warning": pd.Series(warning, index=index, dtype=object),
            "warning_kind": pd.Series(warning_kind, index=index, dtype=object),
        },
        index=index,
    )


def _refused_as(reason: str) -> str:
    """The type part of a type reason ("a landline number (fixed_line)")."""
    return reason.split(";")[0]


def warning_counts(chunk: pd.DataFrame) -> Counter[str]:
    """How many of a checked chunk's ready rows carry a warning, by kind."""
    kinds = chunk["warning_kind"]
    kinds = kinds[kinds.notna() & (chunk["status"] == "ready")]
    return Counter({str(k): int(n) for k, n in kinds.value_counts().items()})
