"""The docs stay true: README and docs/ pages hold commands, campaign examples, options and exit
codes that match the code, links that resolve, and a notebook example that runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from decimal import Decimal
from pathlib import Path

import click
import pandas as pd
import phonenumbers
import pytest
from click.testing import CliRunner

import rcsbatch
from rcsbatch import exitcodes
from rcsbatch.campaign import file as campaign_keys
from rcsbatch.campaign.file import parse_campaign
from rcsbatch.cli import cli
from rcsbatch.exitcodes import ExitCode

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = ROOT / "docs"
PAGES = {path: path.read_text(encoding="utf-8") for path in sorted(DOCS.glob("*.md"))}
EVERY_TEXT = {ROOT / "README.md": README, **PAGES}


def blocks(language: str, text: str = README) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def page(name: str) -> str:
    return PAGES[DOCS / name]


def prose(text: str) -> str:
    """`text` with its fenced code blocks blanked out, lines kept (a `# comment` in a block is
    no heading)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
            line = ""
        lines.append("" if fenced else line)
    return "\n".join(lines)


def section(heading: str) -> str:
    """The text under the line `heading` ("## Delivery reports") up to the next heading of its
    level or a higher one, from whichever of README and docs/ holds it: exactly one must."""
    level = len(heading) - len(heading.lstrip("#"))
    found = []
    for text in EVERY_TEXT.values():
        lines = text.splitlines()
        plain = prose(text).splitlines()
        if heading not in plain:
            continue
        start = plain.index(heading) + 1
        end = next(
            (i for i in range(start, len(plain)) if re.match(rf"#{{1,{level}}} ", plain[i])),
            len(plain),
        )
        found.append("\n".join(lines[start:end]) + "\n")
    assert len(found) == 1, (heading, len(found))
    return found[0]


def test_quick_start_is_two_commands_and_ci_runs_the_second() -> None:
    """The quick start has exactly two commands; .ci/run runs the test command as written."""
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = [b.strip() for b in re.findall(r"```sh\n(.*?)```", quick, flags=re.S)]
    assert len(commands) == 2
    run, test = commands
    assert "rcsbatch run campaigns/example.toml --simulate" in run
    assert (ROOT / "campaigns" / "example.toml").exists()
    ci = (ROOT / ".ci" / "run").read_text()
    assert test in ci


def test_readme_campaign_example_is_a_valid_campaign() -> None:
    """The short campaign on the README's front page loads as it is written."""
    (example,) = [b for b in blocks("toml") if b.startswith("name = ")]
    campaign = parse_campaign(tomllib.loads(example), ROOT / "campaigns" / "readme.toml")
    assert campaign.name == "spring-sale"
    assert "{first_name}" in example and campaign.message.defaults == {"first_name": "there"}


def test_campaign_file_example_is_a_valid_campaign() -> None:
    """The campaign file shown in docs/campaign-file.md loads, with every key it shows, and
    shows every key there is."""
    (example,) = [b for b in blocks("toml", page("campaign-file.md")) if b.startswith("name = ")]
    data = tomllib.loads(example)
    campaign = parse_campaign(data, ROOT / "campaigns" / "readme.toml")
    assert campaign.name == "spring-sale"
    assert campaign.send.concurrency == 16 and campaign.message.ttl == 2880
    shown = set(re.findall(r"^([a-z_]+) =", example, flags=re.M))
    every_key = campaign_keys._TOP_KEYS | campaign_keys._MESSAGE_KEYS | campaign_keys._SEND_KEYS
    every_key |= campaign_keys._TEST_KEYS
    assert shown >= every_key - {"message", "send", "defaults", "test", "limits"}
    assert campaign.test.numbers == (4917699990001,)


def test_limits_table_lists_every_limit_at_its_default() -> None:
    """The `[limits]` block of "Texts and limits" names every limit, at its default, with its
    unit in the comment."""
    from rcsbatch.campaign.limits import UNITS, Limits

    (block,) = [
        b for b in blocks("toml", section("## Texts and limits")) if b.startswith("[limits]\ntext")
    ]
    assert tomllib.loads(block)["limits"] == vars(Limits())
    for key, unit in UNITS.items():
        (line,) = [x for x in block.splitlines() if x.startswith(f"{key} =")]
        assert unit in line.split("#", 1)[1], line


@pytest.mark.parametrize("text", [README, page("commands.md")], ids=["README", "commands.md"])
def test_every_option_in_the_commands_table_exists(text: str) -> None:
    """Each `--option` a command table (README's, docs/commands.md's) names is in that
    command's --help."""
    rows = re.findall(r"^\| `rcsbatch (\w+) ([^`]*)` \|", text, flags=re.M)
    assert {name for name, _ in rows} >= {"run", "validate", "preview", "simulator", "report"}
    for name, usage in rows:
        command = [name]
        group = cli.commands[name]
        if isinstance(group, click.Group):  # `webhook serve …`, `hooks register …`
            command.append(usage.split()[0])
            assert command[1] in group.commands, command
        help_text = CliRunner().invoke(cli, [*command, "--help"]).stdout
        for option in re.findall(r"(--?[a-z][a-z-]*)", usage):
            assert option in help_text, (name, option)


@pytest.mark.parametrize("heading", ["### Exit codes", "## Exit codes"])
def test_exit_codes_in_the_docs_match_the_code(heading: str) -> None:
    """The exit-code tables (README's, and the one in detail in docs/commands.md) list exactly
    the codes of ExitCode, each row opening with the code's meaning (its `code` spans aside)."""
    table = section(heading).strip().split("\n\n", 1)[0]
    rows = dict(re.findall(r"^\| (\d+) \| (.*) \|$", table, flags=re.M))
    assert set(rows) == {str(code.value) for code in ExitCode}
    for code in ExitCode:
        assert rows[str(code.value)].replace("`", "").startswith(code.meaning), code


@pytest.mark.parametrize(
    "command", [None, "run", "validate", *exitcodes.COMMANDS], ids=lambda c: c or "rcsbatch"
)
def test_exit_codes_in_help_match_the_code(command: str | None) -> None:
    """Each `--help` that lists exit codes lists exactly its command's, each with its meaning,
    from exitcodes' table (`rcsbatch --help`, `run` and `validate`: every code)."""
    args = [command, "--help"] if command else ["--help"]
    help_text = CliRunner().invoke(cli, args).stdout.split("Exit codes:", 1)[1]
    listed = re.findall(r"^\s+(\d+)\s+(.*(?:\n\s{7,}\S.*)*)", help_text, flags=re.M)
    meanings = {int(code): " ".join(text.split()) for code, text in listed}
    table = exitcodes.COMMANDS.get(command or "", {code: code.meaning for code in ExitCode})
    assert meanings == {code.value: meaning for code, meaning in table.items()}


def test_exit_codes_of_each_command_in_the_docs_match_the_code() -> None:
    """docs/commands.md's table of each command's exit codes is exitcodes.COMMANDS, row for
    row, and names only commands that exist."""
    table = section("### Exit codes of each command")
    rows = re.findall(r"^\| `(\w+)` \| (\d+) \| (.*) \|$", table, flags=re.M)
    expected = [
        (command, str(code.value), meaning)
        for command, codes in exitcodes.COMMANDS.items()
        for code, meaning in codes.items()
    ]
    assert rows == expected
    assert set(exitcodes.COMMANDS) <= set(cli.commands)


def test_statuses_in_the_docs_match_the_code() -> None:
    """Every status the report can hold is explained in the status table of the results."""
    from rcsbatch.reports.outcome import ORDER

    table = section("### Statuses")
    for status in ORDER:
        assert f"| `{status}` |" in table, status


def test_every_option_in_delivery_reports_exists() -> None:
    """Each `--option` the "Delivery reports" section names is in that subcommand's --help."""
    text = section("## Delivery reports")
    usages = re.findall(r"^- `rcsbatch (webhook|hooks) (\w+)([^`]*)`", text, flags=re.M)
    assert {(group, name) for group, name, _ in usages} == {
        ("webhook", "serve"),
        ("hooks", "register"),
        ("hooks", "list"),
        ("hooks", "remove"),
    }
    for group, name, usage in usages:
        help_text = CliRunner().invoke(cli, [group, name, "--help"]).stdout
        for option in re.findall(r"(--?[a-z][a-z-]*)", usage):
            assert option in help_text, (group, name, option)
    assert "SEVEN_SIGNING_KEY" in text and "--public-url" in text


@pytest.mark.parametrize(
    "text", [section("## Library use"), page("library.md")], ids=["README", "library.md"]
)
def test_library_example_runs(
    text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The library example (README's "Library use", the top of docs/library.md) runs as
    written: a simulated run of the example campaign whose exit code, folder and per-recipient
    rows it prints."""
    code = blocks("python", text)[0]
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("RCSBATCH_REPORT_DIR", str(tmp_path / "reports"))
    exec(compile(code, "README.md", "exec"), {})
    first, folder = capsys.readouterr().out.splitlines()[0].split(" ", 1)
    assert first == "0"
    assert Path(folder).parent.parent == tmp_path / "reports"
    assert (Path(folder) / "results.parquet").exists()


# ---- links, commands named in the docs, the map of pages ------------------------------------


def slugs(text: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown text: lowercase, punctuation dropped,
    spaces as hyphens, a repeated one numbered."""
    found: set[str] = set()
    counts: dict[str, int] = {}
    for heading in re.findall(r"^#+ (.*)$", prose(text), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        n = counts.get(slug, 0)
        found.add(slug if n == 0 else f"{slug}-{n}")
        counts[slug] = n + 1
    return found


def links(text: str) -> list[str]:
    """The targets of the Markdown links in `text`, code left out."""
    plain = re.sub(r"`[^`\n]*`", "", prose(text))
    return re.findall(r"\]\(([^)\s]+)\)", plain)


def test_links_and_anchors_are_read_as_github_reads_them() -> None:
    """Links in code are no links, and anchors are made as GitHub makes them, for the test
    below to judge links right."""
    text = "# Reports (`rcsbatch report`)\n## Where a campaign's state lives\n## Notes\n## Notes\n"
    assert links("[`a`](b.md#c) `[x](y)` [d](https://e)") == ["b.md#c", "https://e"]
    assert slugs(text) == {
        "reports-rcsbatch-report",
        "where-a-campaigns-state-lives",
        "notes",
        "notes-1",
    }


@pytest.mark.parametrize("path", list(EVERY_TEXT), ids=lambda p: p.name)
def test_every_relative_link_resolves(path: Path) -> None:
    """Each relative link in README and docs/ leads to a file, and to a heading of it when it
    names an anchor."""
    for target in links(EVERY_TEXT[path]):
        if re.match(r"[a-z]+:", target):
            continue  # https://, mailto:
        file, _, anchor = target.partition("#")
        resolved = (path.parent / file).resolve() if file else path
        assert resolved.is_file(), (path.name, target)
        if anchor:
            assert resolved.suffix == ".md", (path.name, target)
            assert anchor in slugs(resolved.read_text(encoding="utf-8")), (path.name, target)


def commands_named(text: str) -> list[str]:
    """Each `rcsbatch <command> …` the text names in code (a code span, a sh or cron block), cut
    at a shell's pipe; a table's `\\|` stays, being part of the usage."""
    spans = re.findall(r"`([^`\n]+)`", prose(text))
    spans += [line for b in blocks("(?:sh|cron)", text) for line in b.splitlines()]
    named = []
    for span in spans:
        for match in re.finditer(r"(?:^|[\s(])rcsbatch ([a-z].*)", span):
            named.append(re.split(r"(?<!\\)\||&&|;|#", match[1])[0])
    return named


def test_commands_named_in_code_are_found() -> None:
    """The scan below finds the commands of a sh block, a table row and a code span."""
    text = (
        "```sh\nrcsbatch run c.toml --simulate | head  # x\n```\n"
        "| `rcsbatch event --to N \\| --msg-id ID` | … |\n"
        "Then `rcsbatch hooks list --json`, not `rcsbatch's` own."
    )
    assert commands_named(text) == [
        "event --to N \\| --msg-id ID",
        "hooks list --json",
        "run c.toml --simulate ",
    ]


@pytest.mark.parametrize("path", list(EVERY_TEXT), ids=lambda p: p.name)
def test_every_command_and_option_named_exists(path: Path) -> None:
    """Each `rcsbatch <command> --option` named in README or docs/ is a command whose --help
    has that option."""
    for usage in commands_named(EVERY_TEXT[path]):
        name, *rest = usage.split()
        assert name in cli.commands, (path.name, usage)
        command = [name]
        group = cli.commands[name]
        if isinstance(group, click.Group) and rest and not rest[0].startswith("-"):
            assert rest[0] in group.commands, (path.name, usage)
            command.append(rest[0])
        result = CliRunner().invoke(cli, [*command, "--help"])
        assert result.exit_code == 0, (path.name, usage)
        for option in re.findall(r"(?:^|[\s\[])(--?[a-z][a-z-]*)", " ".join(rest)):
            assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", result.stdout), (
                path.name,
                usage,
                option,
            )


def test_every_docs_page_is_linked_from_readme_or_the_index() -> None:
    """No page of docs/ is an orphan: README or docs/index.md links to each."""
    linked = {(ROOT / target.partition("#")[0]).resolve() for target in links(README)} | {
        (DOCS / target.partition("#")[0]).resolve() for target in links(page("index.md"))
    }
    assert set(PAGES) - {DOCS / "index.md"} <= linked
    assert DOCS / "index.md" in linked


# ---- the notebook example ----------------------------------------------------------------------


def test_notebook_example_runs_and_shows_the_cost_per_country(tmp_path: Path) -> None:
    """examples/notebook.py runs as a script from any folder: its dry run counts the statuses
    as the run's summary does, and its cost per country adds up to the simulated run's cost,
    each country holding numbers of its own calling code, as `rcsbatch report` counts them."""
    reports = tmp_path / "reports"
    env = {**os.environ, "RCSBATCH_REPORT_DIR": str(reports)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "notebook.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    dry = Path(re.search(r"^dry run folder: (.*)$", out, flags=re.M)[1])
    sent = Path(re.search(r"^simulated run folder: (.*) exit code 0$", out, flags=re.M)[1])
    assert dry.parent.parent == reports and dry.name.endswith("-dry-run")
    dry_summary = json.loads((dry / "summary.json").read_text())
    sent_summary = json.loads((sent / "summary.json").read_text())

    counts = out.split("\nstatus\n", 1)[1].split("estimated, before sending:", 1)[0]
    assert dict(re.findall(r"^(\w+) +(\d+)$", counts, flags=re.M)) == {
        status: str(n) for status, n in dry_summary["counts"].items()
    }

    estimated = out.split("estimated, before sending:", 1)[1].split("simulated run folder", 1)[0]
    rows = re.findall(r"^([A-Z]{2}|\?) +(\d+) +([\d.]+)$", estimated, flags=re.M)
    assert sum(int(n) for _, n, _ in rows) == dry_summary["counts"]["ready"]
    assert sum(Decimal(c) for _, _, c in rows) == Decimal(dry_summary["estimated_cost"])

    charged = out.split("charged by the simulator:", 1)[1]
    rows = re.findall(r"^([A-Z]{2}|\?) +(\d+) +([\d.]+)$", charged, flags=re.M)
    assert len(rows) > 1
    assert sum(int(n) for _, n, _ in rows) == sent_summary["counts"]["sent"]
    total = Decimal(sent_summary["total_cost"])
    assert sum(Decimal(c) for _, _, c in rows) == total
    assert f"total: {total.normalize():f} {sent_summary['currency']}" in charged
    recipients = pd.read_parquet(sent / "results.parquet").query("status == 'sent'")["recipient"]
    for country, n, _ in rows:
        code = str(phonenumbers.country_code_for_region(country))
        assert (recipients.str.startswith(code)).sum() >= int(n), country
    # The countries are the ones `rcsbatch report` tells for the same run, with the same costs.
    campaign = rcsbatch.load_campaign(ROOT / "campaigns" / "example.toml")
    report = rcsbatch.report_figures(campaign, run_id=sent_summary["run_id"], simulate=True)
    assert {country: (int(n), Decimal(c)) for country, n, c in rows} == {
        line.key: (line.sent, line.cost) for line in report.by_country
    }
