"""Tests for rcsbatch.campaign.template: `{column}` placeholders, `{{`/`}}` escapes, row and frame
merges."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rcsbatch.campaign.template import Template


@pytest.mark.parametrize(
    ("source", "literals", "fields"),
    [
        ("", ("",), ()),
        ("Hello there.", ("Hello there.",), ()),
        ("{first_name}", ("", ""), ("first_name",)),
        ("Hi {first_name}!", ("Hi ", "!"), ("first_name",)),
        ("{a}{b}", ("", "", ""), ("a", "b")),
        ("{code} and {code}", ("", " and ", ""), ("code", "code")),
        ("Hi {first name}, {Kunden-Nr.}", ("Hi ", ", ", ""), ("first name", "Kunden-Nr.")),
        ("Grüße {Straße} ✓", ("Grüße ", " ✓"), ("Straße",)),
    ],
)
def test_parse_splits_literals_and_fields(
    source: str, literals: tuple[str, ...], fields: tuple[str, ...]
) -> None:
    """parse() alternates literals and placeholder names, starting and ending with a literal."""
    template = Template.parse(source)
    assert template.literals == literals
    assert template.fields == fields
    assert template.source == source
    assert template.is_constant == (not fields)


@pytest.mark.parametrize(
    ("source", "literals", "fields"),
    [
        ("{{", ("{",), ()),
        ("}}", ("}",), ()),
        ("{{x}}", ("{x}",), ()),
        ("{{{x}}}", ("{", "}"), ("x",)),
        ("a {{b}} {c} }}", ("a {b} ", " }"), ("c",)),
        ("{{}}", ("{}",), ()),
    ],
)
def test_doubled_braces_write_literal_braces(
    source: str, literals: tuple[str, ...], fields: tuple[str, ...]
) -> None:
    """`{{` and `}}` are literal braces, never placeholders."""
    template = Template.parse(source)
    assert template.literals == literals
    assert template.fields == fields


@pytest.mark.parametrize(
    ("source", "brace", "position"),
    [
        ("a { b", "{", 2),
        ("a } b", "}", 2),
        ("{name", "{", 0),
        ("name}", "}", 4),
        ("}{", "}", 0),
        ("}}}", "}", 2),
        ("{a{b}}", "{", 0),
        ("{{{", "{", 2),
    ],
)
def test_lone_brace_is_rejected(source: str, brace: str, position: int) -> None:
    """A lone `{` or `}` is a ValueError naming the brace, its position and the escape."""
    with pytest.raises(ValueError, match="lone") as caught:
        Template.parse(source)
    message = str(caught.value)
    assert f"`{brace}`" in message
    assert f"position {position}" in message
    assert brace * 2 in message


@pytest.mark.parametrize("source", ["{}", "Hi {}!", "{ }", "{\t}", "{a} {}"])
def test_empty_placeholder_is_rejected(source: str) -> None:
    """`{}` (or braces around only white space) is a ValueError, not a placeholder."""
    with pytest.raises(ValueError, match="empty placeholder"):
        Template.parse(source)


def test_render_merges_one_row() -> None:
    """render() puts each row value in its placeholder and ignores extra values."""
    template = Template.parse("Hi {first name}, code {code}; again {code}. {{ok}}")
    values = {"first name": "Anna", "code": "X1", "unused": "?"}
    assert template.render(values) == "Hi Anna, code X1; again X1. {ok}"


def test_render_does_not_expand_braces_in_values() -> None:
    """A value holding braces or a placeholder is written as it is, never parsed again."""
    template = Template.parse("<{a}>")
    assert template.render({"a": "{b} }} {{"}) == "<{b} }} {{>"


def text_frame(columns: dict[str, list[str]], start: int = 1) -> pd.DataFrame:
    """A frame shaped like RecipientFile.chunks(): text columns, rows numbered from `start`."""
    length = len(next(iter(columns.values()))) if columns else 0
    index = pd.RangeIndex(start, start + length, name="row")
    return pd.DataFrame({k: pd.Series(v, dtype="str", index=index) for k, v in columns.items()})


@pytest.mark.parametrize("source", ["Hi {a}, {b}!", "{a}", "{a}{b}{a}", "constant", "", "{{{a}}}"])
def test_render_frame_keeps_the_row_index(source: str) -> None:
    """render_frame() returns one string per row, on the frame's own row numbers."""
    frame = text_frame({"a": ["x", "y", ""], "b": ["1", "2", "3"]}, start=7)
    merged = Template.parse(source).render_frame(frame)
    assert merged.index.tolist() == [7, 8, 9]
    template = Template.parse(source)
    assert merged.tolist() == [template.render(r) for r in frame.to_dict("records")]


def test_render_frame_of_no_rows_is_empty() -> None:
    """render_frame() on an empty frame returns an empty series."""
    frame = text_frame({"a": []})
    assert Template.parse("Hi {a}").render_frame(frame).tolist() == []
    assert Template.parse("Hi").render_frame(frame).tolist() == []


NAMES = ["a", "first name", "Kunden-Nr.", "code", "ü"]
literal_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)
value_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)


def escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(st.tuples(literal_text, st.sampled_from(NAMES)), max_size=5),
    tail=literal_text,
    rows=st.lists(st.fixed_dictionaries({n: value_text for n in NAMES}), min_size=1, max_size=4),
)
def test_parse_round_trips_and_render_agrees_with_render_frame(
    parts: list[tuple[str, str]], tail: str, rows: list[dict[str, str]]
) -> None:
    """Escaped literals and placeholders parse back exactly; render and render_frame agree."""
    source = "".join(escape(lit) + "{" + name + "}" for lit, name in parts) + escape(tail)
    template = Template.parse(source)
    assert template.fields == tuple(name for _, name in parts)
    assert template.literals == (*(lit for lit, _ in parts), tail)

    frame = text_frame({n: [r[n] for r in rows] for n in NAMES}, start=3)
    expected = [template.render(r) for r in rows]
    assert expected == ["".join(lit + r[name] for lit, name in parts) + tail for r in rows]
    assert template.render_frame(frame).tolist() == expected
