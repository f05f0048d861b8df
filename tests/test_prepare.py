"""The row checks before sending: invalid, suppressed, duplicate, merged text and ids."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rcsbatch.campaign.file import load_campaign
from rcsbatch.errors import CampaignError, RecipientsError
from rcsbatch.recipients.prepare import SeenNumbers, check_chunk, open_plan, warning_counts
from rcsbatch.reports.outcome import warning_lines


def campaign_with(
    tmp_path: Path, csv: str, message: str = "", top: str = "", suppress: str | None = None
) -> Path:
    (tmp_path / "people.csv").write_text(csv, encoding="utf-8")
    if suppress is not None:
        (tmp_path / "optouts.csv").write_text(suppress, encoding="utf-8")
        top += '\nsuppress = "optouts.csv"'
    path = tmp_path / "c.toml"
    path.write_text(
        f'name = "t"\nrecipients = "people.csv"\ndefault_region = "DE"\n{top}\n'
        f'[message]\ntext = "Hi {{name}}"\n{message}\n',
        encoding="utf-8",
    )
    return path


def checked(path: Path) -> pd.DataFrame:
    plan = open_plan(load_campaign(path))
    return pd.concat(list(plan.chunks()))


def test_the_four_forms_of_one_number_are_one_recipient(tmp_path: Path) -> None:
    """+49…, 0049…, 0176… and 49… name the same recipient: the first is ready, later duplicates."""
    csv = "phone,name\n+49 176 1234 5678,a\n0049 176-12345678,b\n0176 12345678,c\n4917612345678,d\n"
    rows = checked(campaign_with(tmp_path, csv))
    assert rows["recipient"].tolist() == [4917612345678] * 4
    assert rows["status"].tolist() == ["ready", "duplicate", "duplicate", "duplicate"]
    assert rows.loc[4, "reason"] == "same recipient as row 2"  # lines: the header is 1


def test_suppressed_in_any_form_and_header_optional(tmp_path: Path) -> None:
    """A suppress list without a header still matches, in another format than the recipients."""
    csv = "phone,name\n+49 176 1234 5678,a\n0151 23456789,b\n"
    rows = checked(campaign_with(tmp_path, csv, suppress="0049 176 12345678\n"))
    assert rows["status"].tolist() == ["suppressed", "ready"]


def test_invalid_rows_keep_their_reason_and_input(tmp_path: Path) -> None:
    """An unusable number is `invalid`, with a reason and the cell as it was."""
    rows = checked(campaign_with(tmp_path, "phone,name\nhello,a\n,b\n0176 12345678,c\n"))
    assert rows["status"].tolist() == ["invalid", "invalid", "ready"]
    assert rows.loc[2, "input_phone"] == "hello"
    assert all(isinstance(r, str) and r for r in rows["reason"][:2])


def test_empty_needed_cell_is_invalid_unless_defaulted(tmp_path: Path) -> None:
    """An empty cell the text needs makes the row invalid; [message.defaults] fills it."""
    csv = "phone,name\n0176 12345678,\n0151 23456789,Bo\n"
    rows = checked(campaign_with(tmp_path, csv))
    assert rows["status"].tolist() == ["invalid", "ready"]
    assert "`name`" in rows.loc[2, "reason"]
    rows = checked(campaign_with(tmp_path, csv, '[message.defaults]\nname = "there"'))
    assert rows["text"].tolist() == ["Hi there", "Hi Bo"]


def test_invalid_row_does_not_make_a_later_one_duplicate(tmp_path: Path) -> None:
    """The first *sendable* row of a recipient is sent, even when an earlier row was invalid."""
    csv = "phone,name\n0176 12345678,\n0176 12345678,Al\n"
    rows = checked(campaign_with(tmp_path, csv))
    assert rows["status"].tolist() == ["invalid", "ready"]


@pytest.mark.parametrize(
    ("template", "value", "ok"),
    [
        ('foreign_id = "{id}"', "C-1001_x@y.z", True),
        ('foreign_id = "{id}"', "has space", False),
        ('foreign_id = "{id}"', "x" * 64, True),
        ('foreign_id = "{id}"', "x" * 65, False),
        ('label = "L{id}"', "x" * 99, True),
        ('label = "L{id}"', "x" * 100, False),
        ('label = "{id}"', "ümlaut", False),
    ],
)
def test_merged_ids_follow_the_gateway_rules(
    tmp_path: Path, template: str, value: str, ok: bool
) -> None:
    """A merged label or foreign_id that seven would refuse makes the row invalid, never sent."""
    csv = f"phone,name,id\n0176 12345678,A,{value}\n"
    rows = checked(campaign_with(tmp_path, csv, template))
    assert (rows.loc[2, "status"] == "ready") is ok
    if not ok:
        assert "gateway's rule" in rows.loc[2, "reason"]


def test_text_of_only_spaces_is_invalid(tmp_path: Path) -> None:
    """A text that merges to nothing but white space is not sent."""
    path = campaign_with(tmp_path, 'phone,name\n0176 12345678," "\n')
    path.write_text(path.read_text().replace('text = "Hi {name}"', 'text = "{name}"'))
    (tmp_path / "people.csv").write_text('phone,name\n0176 12345678,"  x"\n')
    assert checked(path)["status"].tolist() == ["ready"]
    path.write_text(
        path.read_text().replace('text = "{name}"', 'text = "{name}{name}"')
        + '[message.defaults]\nname = " "\n'
    )
    (tmp_path / "people.csv").write_text("phone,name\n0176 12345678,\n")
    rows = checked(path)
    assert rows["status"].tolist() == ["invalid"]
    assert rows.loc[2, "reason"] == "the merged text is empty"


def test_duplicates_found_across_chunks(tmp_path: Path) -> None:
    """A recipient repeated far apart (in another chunk) is still a duplicate of the first row."""
    numbers = [f"0176 {10_000_000 + i}" for i in range(50)]
    csv = "phone,name\n" + "".join(f"{n},x\n" for n in numbers + numbers[:5])
    plan = open_plan(load_campaign(campaign_with(tmp_path, csv)))
    seen = SeenNumbers()
    parts = [
        check_chunk(c, plan.campaign, plan.suppress, seen)
        for c in plan.file.chunks(["phone", "name"], chunk_rows=7)
    ]
    rows = pd.concat(parts)
    assert (rows["status"] == "duplicate").sum() == 5
    assert rows.loc[52:56, "reason"].tolist() == [f"same recipient as row {i}" for i in range(2, 7)]


@given(st.lists(st.lists(st.integers(1, 40), max_size=30), max_size=8))
def test_seen_numbers_agree_with_a_dict(chunks: list[list[int]]) -> None:
    """SeenNumbers gives each number's first row, exactly as a plain dict would."""
    seen, reference = SeenNumbers(), {}
    row = 0
    for chunk in chunks:
        rows = np.arange(row + 1, row + 1 + len(chunk), dtype=np.int64)
        row += len(chunk)
        got = seen.first_rows(np.array(chunk, dtype=np.int64), rows)
        expected = []
        for number, r in zip(chunk, rows, strict=True):
            expected.append(reference.get(number, 0))
            reference.setdefault(number, int(r))
        assert got.tolist() == expected


@pytest.mark.parametrize(
    ("cell", "named"), [("a\x00b", "U+0000 (NUL)"), ("\x1b[31mred", "U+001B (ESC)")]
)
def test_a_control_character_makes_only_its_row_invalid(
    tmp_path: Path, cell: str, named: str
) -> None:
    """NUL, ESC and the like are mistakes in the file: that row is invalid, naming the character;
    LF and TAB are text."""
    path = campaign_with(tmp_path, "phone,name\n0176 12345678,Ann\n0176 22223333,x\n")
    frame = pd.DataFrame(
        {
            "phone": ["0176 12345678", "0176 22223333", "0176 33334444"],
            "name": [cell, "a\tb", "c\nd"],
        }
    )
    frame.to_csv(tmp_path / "people.csv", index=False)
    rows = checked(path)
    assert rows["status"].tolist() == ["invalid", "ready", "ready"]
    assert rows.loc[2, "reason"] == f"text contains a control character {named}; remove it"


def test_a_c1_control_character_in_the_label_is_named(tmp_path: Path) -> None:
    path = campaign_with(
        tmp_path, "phone,name,tag\n0176 12345678,Ann,a\u009bb\n", message='label = "{tag}"'
    )
    rows = checked(path)
    assert rows.loc[2, "reason"] == "label contains a control character U+009B (CSI); remove it"


def test_suppress_entries_that_are_not_numbers_refuse_the_run(tmp_path: Path) -> None:
    """An opt-out we cannot read is not dropped silently: the run stops, naming its lines."""
    suppress = "email\n\na@example.com\n0176 12345678\n\nb@example.com\n"
    with pytest.raises(RecipientsError, match=r"2 entries .*\(line 3, 6\).*suppress_invalid"):
        checked(campaign_with(tmp_path, "phone,name\n0151 23456789,b\n", suppress=suppress))


def test_suppress_lines_listed_are_capped(tmp_path: Path) -> None:
    """A long list of bad entries names the first ten lines, then how many more."""
    suppress = "phone\n" + "x\n" * 25
    lines = ", ".join(str(n) for n in range(2, 12))
    with pytest.raises(RecipientsError, match=rf"25 entries .*\(line {lines} and 15 more\)"):
        checked(campaign_with(tmp_path, "phone,name\n0151 23456789,b\n", suppress=suppress))


def test_suppress_invalid_ignore_skips_bad_entries(tmp_path: Path) -> None:
    """`suppress_invalid = "ignore"` keeps the old behaviour: bad entries are skipped."""
    path = campaign_with(
        tmp_path,
        "phone,name\n0176 12345678,a\n0151 23456789,b\n",
        top='suppress_invalid = "ignore"',
        suppress="phone\nnot a number\n0176 12345678\n",
    )
    assert checked(path)["status"].tolist() == ["suppressed", "ready"]


def test_suppress_header_only_is_empty_and_fine(tmp_path: Path) -> None:
    """A list with only its header suppresses nobody, without complaint."""
    for header in ("phone", "phone\n", "email,phone\n"):
        path = campaign_with(tmp_path, "phone,name\n0151 23456789,b\n", suppress=header)
        assert checked(path)["status"].tolist() == ["ready"]


def test_suppress_without_a_phone_column_refuses(tmp_path: Path) -> None:
    """Several columns and none of them `phone`: the run stops rather than guess."""
    suppress = "email,name\na@example.com,A\n"
    with pytest.raises(RecipientsError, match="`phone` column"):
        checked(campaign_with(tmp_path, "phone,name\n0151 23456789,b\n", suppress=suppress))


def test_suppress_invalid_must_be_refuse_or_ignore(tmp_path: Path) -> None:
    """Any other value of `suppress_invalid` is a campaign error naming the key."""
    path = campaign_with(tmp_path, "phone,name\n", top='suppress_invalid = "skip"')
    with pytest.raises(CampaignError, match="suppress_invalid"):
        load_campaign(path)


def test_suppress_header_only_not_phone_is_accepted_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A header-only list whose one column is `email`: accepted (no opt-out to lose), but said:
    it may be the wrong file. A header-only `phone` list stays silent."""
    # The CLI's own handler (set by an earlier command in this process) keeps records from caplog.
    monkeypatch.setattr(logging.getLogger("rcsbatch"), "propagate", True)
    path = campaign_with(tmp_path, "phone,name\n0151 23456789,b\n", suppress="email\n")
    with caplog.at_level("WARNING", logger="rcsbatch"):
        assert checked(path)["status"].tolist() == ["ready"]
    said = [r.getMessage() for r in caplog.records if r.name == "rcsbatch.prepare"]
    assert said and all("column is `email`, not `phone`: nobody is" in m for m in said), said
    caplog.clear()
    path = campaign_with(tmp_path, "phone,name\n0151 23456789,b\n", suppress="Phone\n")
    with caplog.at_level("WARNING", logger="rcsbatch"):
        checked(path)
    assert [r for r in caplog.records if r.name == "rcsbatch.prepare"] == []


# --- number types (issue 11) --------------------------------------------------------------------


def test_numbers_of_refused_types_are_invalid_with_the_type(tmp_path: Path) -> None:
    """Landline, freephone and premium-rate rows are invalid, the type in words as the reason;
    the recipient keeps its number (a lookup may still let it go)."""
    csv = "phone,name\n+49 30 1234567,a\n0800 1234567,b\n+49 900 1234567,c\n0176 12345678,d\n"
    rows = checked(campaign_with(tmp_path, csv))
    assert rows["status"].tolist() == ["invalid", "invalid", "invalid", "ready"]
    assert rows.loc[2, "reason"] == "a landline number (fixed_line); RCS reaches mobile phones"
    assert rows.loc[3, "reason"].startswith("a freephone number (toll_free)")
    assert rows.loc[4, "reason"].startswith("a premium-rate number (premium_rate)")
    assert rows.loc[2, "recipient"] == 49301234567


def test_voip_numbers_are_ready_with_a_counted_warning(tmp_path: Path) -> None:
    """A VoIP number goes, with a warning that warning_counts counts; a mobile has none."""
    csv = "phone,name\n+44 56 1234 5678,a\n0176 12345678,b\n436641234567,c\n"
    rows = checked(campaign_with(tmp_path, csv))
    assert rows["status"].tolist() == ["ready", "ready", "invalid"]
    assert rows.loc[2, "warning"] == (
        "an internet telephony (VoIP) number (voip): it may not receive RCS"
    )
    assert pd.isna(rows.loc[3, "warning"]) and pd.isna(rows.loc[4, "warning"])
    assert rows.loc[4, "reason"].endswith("did you mean +43 664 1234567?")
    assert warning_counts(rows) == {"voip": 1}
    assert warning_lines(warning_counts(rows)) == [
        "warning: 1 ready row has a number to look at (1 voip); `rcsbatch validate` lists them"
    ]


def test_number_types_changes_the_set_and_fallback_does_not(tmp_path: Path) -> None:
    """`number_types` decides which types go; `fallback = "sms"` does not widen it."""
    csv = "phone,name\n+49 30 1234567,a\n+44 56 1234 5678,b\n"
    fallback = 'fallback = "sms"'
    rows = checked(campaign_with(tmp_path, csv, fallback))
    assert rows["status"].tolist() == ["invalid", "ready"]
    top = 'number_types = ["mobile", "fixed_line"]'
    rows = checked(campaign_with(tmp_path, csv, fallback, top=top))
    assert rows["status"].tolist() == ["ready", "invalid"]
    assert rows.loc[2, "warning_kind"] == "fixed_line"
    assert rows.loc[3, "reason"] == (
        "an internet telephony (VoIP) number (voip); `number_types` leaves it out"
    )


def test_a_lookup_showing_rcs_lets_a_refused_type_go(tmp_path: Path) -> None:
    """A landline whose recent lookup shows RCS is ready (with a warning), then a duplicate
    of it too; the plan lists the numbers refused for their type."""
    csv = "phone,name\n+49 30 1234567,a\n+49 30 7654321,b\n030 1234567,c\n"
    plan = open_plan(load_campaign(campaign_with(tmp_path, csv)))
    assert plan.refused_types() == [49301234567, 49307654321]
    rows = pd.concat(list(plan.with_capable(np.array([49301234567])).chunks()))
    assert rows["status"].tolist() == ["ready", "invalid", "duplicate"]
    assert rows.loc[2, "warning"] == (
        "a landline number (fixed_line), sent: a capability lookup shows it can receive RCS"
    )
    assert warning_counts(rows) == {"lookup": 1}


def test_suppress_lists_take_landlines_apostrophes_and_full_width(tmp_path: Path) -> None:
    """A suppressed landline is no invalid entry, and an apostrophe or full-width digits are
    read in a suppress list as in the recipients."""
    csv = "phone,name\n'0176 12345678,a\n\uff10\uff11\uff15\uff11 23456789,b\n0160 98765432,c\n"
    suppress = "phone\n+49 30 1234567\n'0151 23456789\n\uff10\uff11\uff16\uff10 98765432\n"
    rows = checked(campaign_with(tmp_path, csv, suppress=suppress))
    assert rows["status"].tolist() == ["ready", "suppressed", "suppressed"]


@pytest.mark.parametrize(
    ("listed", "written", "top"),
    [
        # the list lost the 00; the recipient file has the mobile with +
        ("436641234567", "+43 664 1234567", ""),
        ("436641234567", "0043 664 1234567", ""),
        # the recipient file lost the 00 where both readings are allowed (sent with a warning)
        ("+43 664 1234567", "436641234567", 'number_types = ["mobile", "fixed_line"]'),
        ("0043 664 1234567", "'436641234567", 'number_types = ["mobile", "fixed_line"]'),
    ],
)
def test_bare_digits_that_read_two_ways_are_suppressed_either_way(
    tmp_path: Path, listed: str, written: str, top: str
) -> None:
    """A suppress entry and a recipient cell naming the same person in different shapes, one
    of them bare digits that read two ways, still suppress: an opt-out is never lost to a
    dropped 00."""
    csv = f"phone,name\n{written},a\n0160 98765432,b\n"
    rows = checked(campaign_with(tmp_path, csv, top=top, suppress=f"phone\n{listed}\n"))
    assert rows["status"].tolist() == ["suppressed", "ready"]
