"""The README stays true: its commands, campaign example, options and exit codes match the code."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from rcsbatch import campaign as campaign_keys
from rcsbatch.campaign import parse_campaign
from rcsbatch.cli import cli
from rcsbatch.exitcodes import ExitCode

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


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
    """The campaign file shown in the README loads, with every key it shows."""
    (example,) = [b for b in blocks("toml") if b.startswith("name = ")]
    data = tomllib.loads(example)
    campaign = parse_campaign(data, ROOT / "campaigns" / "readme.toml")
    assert campaign.name == "spring-sale"
    assert campaign.send.concurrency == 16 and campaign.message.ttl == 2880
    shown = set(re.findall(r"^([a-z_]+) =", example, flags=re.M))
    every_key = campaign_keys._TOP_KEYS | campaign_keys._MESSAGE_KEYS | campaign_keys._SEND_KEYS
    every_key |= campaign_keys._TEST_KEYS
    assert shown >= every_key - {"message", "send", "defaults", "test", "limits"}
    assert campaign.test.numbers == (4917699990001,)


def test_readme_limits_table_lists_every_limit_at_its_default() -> None:
    """The `[limits]` block of "Texts and limits" names every limit, at its default, with its
    unit in the comment."""
    from rcsbatch.limits import UNITS, Limits

    (block,) = [b for b in blocks("toml") if b.startswith("[limits]\ntext")]
    assert tomllib.loads(block)["limits"] == vars(Limits())
    for key, unit in UNITS.items():
        (line,) = [x for x in block.splitlines() if x.startswith(f"{key} =")]
        assert unit in line.split("#", 1)[1], line


def test_every_option_in_the_commands_table_exists() -> None:
    """Each `--option` the README's command table names is in that command's --help."""
    rows = re.findall(r"^\| `rcsbatch (\w+) ([^`]*)` \|", README, flags=re.M)
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


def test_exit_codes_in_readme_match_the_code() -> None:
    """The README's exit-code table lists exactly the codes of ExitCode, each row opening with
    the code's meaning (its `code` spans aside)."""
    table = README.split("### Exit codes", 1)[1].strip().split("\n\n", 1)[0]
    rows = dict(re.findall(r"^\| (\d+) \| (.*) \|$", table, flags=re.M))
    assert set(rows) == {str(code.value) for code in ExitCode}
    for code in ExitCode:
        assert rows[str(code.value)].replace("`", "").startswith(code.meaning), code


def test_exit_codes_in_help_match_the_code() -> None:
    """`rcsbatch --help` and `rcsbatch run --help` list every exit code with its meaning."""
    for args in (["--help"], ["run", "--help"]):
        help_text = CliRunner().invoke(cli, args).stdout.split("Exit codes:", 1)[1]
        listed = re.findall(r"^\s+(\d+)\s+(.*(?:\n\s{7,}\S.*)*)", help_text, flags=re.M)
        meanings = {int(code): " ".join(text.split()) for code, text in listed}
        assert meanings == {code.value: code.meaning for code in ExitCode}, args


def test_statuses_in_readme_match_the_code() -> None:
    """Every status the report can hold is explained in the README's status table."""
    from rcsbatch.report import ORDER

    for status in ORDER:
        assert f"| `{status}` |" in README, status


def test_every_option_in_delivery_reports_exists() -> None:
    """Each `--option` the "Delivery reports" section names is in that subcommand's --help."""
    section = README.split("## Delivery reports", 1)[1].split("\n## ", 1)[0]
    usages = re.findall(r"^- `rcsbatch (webhook|hooks) (\w+)([^`]*)`", section, flags=re.M)
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
    assert "SEVEN_SIGNING_KEY" in section and "--public-url" in section


def test_readme_library_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The "Library use" example runs as written: a simulated run of the example campaign whose
    exit code, folder and per-recipient rows it prints."""
    section = README.split("## Library use", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("RCSBATCH_REPORT_DIR", str(tmp_path / "reports"))
    exec(compile(code, "README.md", "exec"), {})
    first, folder = capsys.readouterr().out.splitlines()[0].split(" ", 1)
    assert first == "0"
    assert Path(folder).parent.parent == tmp_path / "reports"
    assert (Path(folder) / "results.parquet").exists()
