"""The command line: each command parses its options, calls the library, and maps its errors."""

from __future__ import annotations

import contextlib
import errno
import gc
import json
import logging
import os
import signal
import sys
from collections.abc import Coroutine, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from rcsbatch import __version__, api, exitcodes, process
from rcsbatch.campaign.file import Campaign, load_campaign
from rcsbatch.engine import runner
from rcsbatch.engine.loop import console_loop
from rcsbatch.errors import (
    AccountError,
    CampaignBusyError,
    GatewayError,
    InputError,
    StorageError,
)
from rcsbatch.progress import Progress
from rcsbatch.recipients.controls import visible
from rcsbatch.reports import csvfile
from rcsbatch.reports.folder import REPORT_DIR_ENV, report_root
from rcsbatch.reports.outcome import EXIT_BUSY, EXIT_INPUT, RESUME
from rcsbatch.state import storage
from rcsbatch.state.claims import CLAIMS


def _exit_codes(command: str | None = None) -> str:
    """A command's `--help` epilog: its exit codes from exitcodes' one table, kept unwrapped."""
    return "Exit codes:\n\n\b\n" + exitcodes.help_table(command)


T = TypeVar("T")


class InputProblem(click.ClickException):
    """A campaign or recipient problem: exit code 2, nothing sent."""

    exit_code = EXIT_INPUT


class _People(Console):
    """stderr for people. Its lines quote data (file and column names, the gateway's texts):
    printed as written, never read as markup, their control characters written out, so an ESC
    in a cell or an answer cannot reach the terminal."""

    def print(self, *objects: Any, **options: Any) -> None:
        options.setdefault("markup", False)
        super().print(*(visible(o) if isinstance(o, str) else o for o in objects), **options)


def _stderr(quiet: bool = False) -> Console:
    return _People(stderr=True, quiet=quiet, highlight=False, soft_wrap=True)


class CampaignBusy(click.ClickException):
    """Another run of the same campaign is going on: exit code 4, nothing sent."""

    exit_code = EXIT_BUSY


class SendingStopped(click.ClickException):
    """A full disk stopped a run that had begun to send: exit code 1, as for rows not sent (before
    sending, such trouble is an InputProblem: exit 2)."""

    exit_code = 1


# The flag that also fixes an input error, keyed by the library's parameter (InputError.option):
# the library's messages name no flag, so the command line adds its own.
OPTION_HINTS = {
    "limit": " (--limit)",
    "report_dir": " with --report-dir",
    "simulate": ", or use --simulate with a campaign run with --simulate",
    "event": " (--event)",
    "max_age": " (--max-age)",
    "phone_column": " (--phone-column)",
    "public_url": " (--public-url)",
    "region": " (--region)",
    "rows": " (--rows)",
    "to": " (--to)",
}
# No key for a run: a dry run or a simulation needs none.
RUN_HINTS = {**OPTION_HINTS, "simulate": ", or try the campaign first with --dry-run or --simulate"}
# The account's commands (agents, hooks) have no --simulate.
ACCOUNT_HINTS = {**OPTION_HINTS, "simulate": ""}
# A test send's numbers are the library's `to`, as an event's are, but `run` spells it --test-to.
TEST_SEND_HINTS = {**OPTION_HINTS, "to": " (--test-to)"}


@contextlib.contextmanager
def _input_errors(
    hints: Mapping[str, str] = OPTION_HINTS, arguments: Mapping[str, str] | None = None
) -> Iterator[None]:
    """Turn the library's input errors into one-line messages with their exit codes, each
    naming the flag that fixes it (`hints`, by InputError.option); a bad value of one of the
    command's `arguments` (its name in the usage, by InputError.option) as click says its own."""
    try:
        yield
    # Messages may quote data (file and column names): control characters written out.
    except InputError as exc:
        if arguments and exc.option is not None and exc.option in arguments:
            raise click.BadParameter(visible(str(exc)), param_hint=arguments[exc.option]) from None
        raise InputProblem(visible(str(exc)) + hints.get(exc.option or "", "")) from None
    except CampaignBusyError as exc:
        raise CampaignBusy(str(exc)) from None
    except StorageError as exc:
        problem = SendingStopped if exc.sending_started else InputProblem
        raise problem(visible(str(exc))) from None


@contextlib.contextmanager
def _kept(
    campaign: Campaign,
    root: Path,
    *extra: Path,
    nothing_sent: bool = True,
    hints: Mapping[str, str] = OPTION_HINTS,
) -> Iterator[None]:
    """Disk trouble with the campaign's files (a full disk, a damaged journal): one message
    naming the folder or file, exit 2 (see storage.checked)."""
    from rcsbatch.state import paths

    accounts = {paths.SIMULATOR, *paths.accounts_with(campaign.name)}
    files: list[Path] = []
    for account in sorted(accounts):
        found = paths.campaign_state(campaign, account)
        files += [found.journal, found.test_sends, found.account_folder / CLAIMS]
    with _input_errors(hints), storage.checked([*files, root, *extra], nothing_sent=nothing_sent):
        yield


def _echo_result(line: str) -> None:
    """Print a command's result line (a folder, a file) on stdout, whatever became of stdout.

    The work is done and on disk when this is printed: a reader that went away (`| head -0`)
    or a full disk must neither hide the command's exit code nor end in a traceback.
    """
    try:
        click.echo(line)
    except OSError as exc:
        # A stdout process.main does not guard (the CLI called in-process): Python would try to
        # flush it again at exit and print an error of its own.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        if exc.errno != errno.EPIPE:  # the reader left on purpose: nothing to say
            click.echo(f"cannot print {line} on stdout ({exc.strerror or exc})", err=True)
    process.tell_stdout_lost(line)


report_dir_option = click.option(
    "--report-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help=f"Report folder (default: ${REPORT_DIR_ENV}, else the campaign's report_dir).",
)
# Never taken from the locale: the same command writes the same bytes on every machine.
csv_option = click.option(
    "--csv",
    "csv_dialect",
    type=click.Choice(list(csvfile.DIALECTS)),
    help="CSV dialect: standard (UTF-8, `,`, `.`) or excel (UTF-8 with BOM, `;`, decimal "
    "comma). Default: standard, or for a campaign its csv_dialect.",
)


class _Commands(click.Group):
    """The command group: Ctrl-C and SIGTERM pass click by as process.Interrupted."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            returned = super().invoke(ctx)
        except KeyboardInterrupt as exc:
            raise process.Interrupted(process.signal_of(exc) or signal.SIGINT) from None
        if isinstance(returned, int) and returned:
            # A command returns its exit code: click's standalone mode (CliRunner, a bare
            # `cli()`) drops a returned value, an Exit it passes on in either mode.
            ctx.exit(returned)
        return returned


@click.group(
    cls=_Commands,
    epilog=_exit_codes(),
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="rcsbatch")
def cli() -> None:
    """Run bulk RCS campaigns through seven's RCS API.

    A campaign file (TOML) names a recipient file (CSV, Excel or Parquet) and a message template;
    rcsbatch checks every row, sends concurrently with safe retries, and writes a per-recipient
    report with costs. Try it with no account: rcsbatch run campaigns/example.toml --simulate
    """


@cli.command(epilog=_exit_codes())
@click.argument("campaign_file", type=click.Path(dir_okay=False))
@report_dir_option
@click.option("--dry-run", is_flag=True, help="Check and merge every row; send nothing.")
@click.option(
    "--simulate",
    is_flag=True,
    help="Send through the built-in gateway simulator instead of seven (no account).",
)
@click.option("--limit", type=click.IntRange(min=0), help="Send at most N messages in this run.")
@click.option(
    "--retry-failed",
    is_flag=True,
    help="Also send again rows that failed for a reason that may pass (daily limit, carrier "
    "error, retries exhausted); never numbers the gateway called invalid.",
)
@click.option(
    "--lookup",
    is_flag=True,
    help="First look up (billed per number) the rows without a capability lookup younger than "
    "30 days: with [send] require the rows to send, and always the numbers refused for their "
    "type (a landline the lookup shows able to receive RCS is sent).",
)
@click.option(
    "--test-to",
    "test_to",
    multiple=True,
    metavar="NUMBER",
    help="Test send: send the chosen rows, merged as the campaign would and marked as tests, to "
    "this number instead of their recipients (repeat for more numbers; wins over [test] "
    "numbers). The campaign's own sends are untouched; prints the results file.",
)
@click.option(
    "--test",
    "test_file_numbers",
    is_flag=True,
    help="Test send to the campaign file's [test] numbers (see --test-to).",
)
@click.option(
    "--rows",
    "rows_option",
    metavar="2,5,9",
    help="With --test-to or --test: the rows to send, numbered as the file shows them and the "
    "results list them (the header is row 1; each must be ready); default: the first three "
    "ready rows.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only the run folder (on stdout).")
@click.option("-v", "--verbose", is_flag=True, help="Log each retry on stderr.")
def run(
    campaign_file: str,
    report_dir: Path | None,
    dry_run: bool,
    simulate: bool,
    limit: int | None,
    retry_failed: bool,
    lookup: bool,
    test_to: tuple[str, ...],
    test_file_numbers: bool,
    rows_option: str | None,
    quiet: bool,
    verbose: bool,
) -> int:
    """Send a campaign and write its report; prints the run folder on stdout.

    Running the same campaign again resumes it: rows never sent go (new rows of the file
    included), lost answers are settled from the gateway's logbook, and nothing already
    sent goes twice. To message the same people again, give the campaign a new name.

    With --test-to NUMBER (or --test for the file's [test] numbers), only a test send: the chosen
    rows (--rows; default the first three ready rows) go to the test numbers, labelled as tests
    with foreign_ids of their own, recorded apart from the campaign (which a later run sends in
    full); prints the test send's results file. With --dry-run: shows what would go.

    The key comes from $SEVEN_API_KEY, the gateway from $SEVEN_BASE_URL
    (default https://gateway.seven.io/api).
    """
    _logging(verbose, quiet)
    err = _stderr(quiet)
    if test_to or test_file_numbers:
        for name, given in (
            ("--limit", limit is not None),
            ("--retry-failed", retry_failed),
            ("--lookup", lookup),
        ):
            if given:
                raise click.UsageError(f"{name} does not go with a test send (--test-to, --test)")
        # Returned, never fallen through: what follows would send the whole campaign.
        return _test_send(campaign_file, report_dir, test_to, rows_option, dry_run, simulate, err)
    if rows_option is not None:
        raise click.UsageError("--rows chooses the rows of a test send: give --test-to or --test")
    with _input_errors():
        campaign = load_campaign(campaign_file)
    root = report_root(campaign, report_dir)
    progress = Progress(err, enabled=not quiet and err.is_terminal)

    def start(total: int) -> None:
        progress.start(total)
        # Everything loaded so far lives for the whole send: frozen, the cyclic GC stops
        # re-scanning it every few thousand messages. The console's choice, never a library's.
        gc.collect()
        gc.freeze()

    kept = _kept(campaign, root) if dry_run else contextlib.nullcontext()
    with progress, kept, _input_errors(RUN_HINTS), _account_stops(), console_loop() as loop:
        try:
            result = loop.run(
                api.run_async(
                    campaign,
                    dry_run=dry_run,
                    simulate=simulate,
                    report_dir=root,
                    limit=limit,
                    retry_failed=retry_failed,
                    lookup=lookup,
                    on_status=err.print,
                    on_start=start,
                    on_outcome=progress.advance,
                    on_warning=_loud,
                    stop_on_signals=True,
                )
            )
        finally:
            gc.unfreeze()
    return _finish(err, result)


def _test_send(
    campaign_file: str,
    report_dir: Path | None,
    test_to: tuple[str, ...],
    rows_option: str | None,
    dry_run: bool,
    simulate: bool,
    err: Console,
) -> int:
    """`run --test-to` / `run --test`: send the chosen rows to the test numbers; the exit code."""
    from rcsbatch.actions import testsends

    # No validity check: a test message goes now, whatever the campaign's delay.
    with _input_errors(TEST_SEND_HINTS):
        campaign = load_campaign(campaign_file)
        rows = testsends.parse_rows(rows_option) if rows_option is not None else ()
    if dry_run:
        with _input_errors(TEST_SEND_HINTS):
            messages = api.preview_test_messages(campaign, to=test_to, rows=rows)
        for m in messages:
            body = json.dumps(m.params, ensure_ascii=False)
            err.print(f"row {m.row} would go to +{m.to} as: {body}", markup=False)
        err.print(
            f"dry run: {len(messages)} test messages ({len({m.row for m in messages})} rows × "
            f"{len({m.to for m in messages})} numbers) would go; nothing sent"
        )
        return 0

    def done(m: Any) -> None:
        what = f"row {m.row} → +{m.to}: {m.status}"
        if m.message_ids:
            what += f" (id {' '.join(m.message_ids)})"
        if m.error_text:
            what += f": {m.error_text}"
        err.print(what, markup=False)

    root = report_root(campaign, report_dir)
    with _kept(campaign, root, nothing_sent=False, hints=TEST_SEND_HINTS):
        result = _console(
            api.send_test_messages_async(
                campaign,
                to=test_to,
                rows=rows,
                simulate=simulate,
                report_dir=root,
                on_status=err.print,
                on_message=done,
                on_warning=_loud,
            )
        )
    counts: dict[str, int] = {}
    for m in result.messages:
        counts[m.status] = counts.get(m.status, 0) + 1
    err.print("test send: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    if result.stop_reason:
        _stderr().print(f"stopped by the gateway: {result.stop_reason}", markup=False)
    _echo_result(str(result.path))
    return result.exit_code


def _loud(line: str) -> None:
    """A line for people that -q does not silence."""
    _stderr().print(line, markup=False)


@cli.command(epilog=_exit_codes("sync"))
@click.argument("campaign_file", type=click.Path(dir_okay=False))
@report_dir_option
@click.option(
    "--simulate",
    is_flag=True,
    help="Read the logbook of the built-in simulator the campaign was run with.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only the run folder (on stdout).")
def sync(campaign_file: str, report_dir: Path | None, simulate: bool, quiet: bool) -> int:
    """Fill delivery states and final prices from the gateway's logbook (no webhooks needed).

    Rewrites the newest run's results files from the journal and prints that run's folder.
    Safe to run again and again, e.g. hourly from cron after a campaign.
    """
    err = _stderr(quiet)
    with _input_errors():
        campaign = load_campaign(campaign_file)
    root = report_root(campaign, report_dir)
    with _kept(campaign, root):
        result = _console(
            api.sync_campaign_async(campaign, simulate=simulate, report_dir=root, on_warning=_loud)
        )
    if result.stop_reason:
        raise GatewayStop(result.stop_reason)
    if result.error:
        raise click.ClickException(f"the logbook could not be read: {result.error}")
    stats, folder = result.stats, result.folder
    err.print(
        f"logbook: {stats.entries} entries read ({stats.pages} pages); {stats.states} delivery "
        f"states and {stats.prices} prices filled in; {stats.needed} sent rows needed them"
    )
    if stats.sent_twice:
        err.print(
            f"sent twice: {stats.sent_twice} rows judged absent from the logbook and sent again "
            "had gone after all; both messages are kept in the results (error_text says so)"
        )
    if stats.settled_found or stats.settled_absent:
        err.print(
            f"lost answers: {stats.settled_found} found sent in the logbook, "
            f"{stats.settled_absent} shown absent (the next run sends them)"
        )
    if folder is not None:
        err.print(f"results rewritten from the journal in {folder}")
        _echo_result(str(folder))
    return result.exit_code


def _console(work: Coroutine[Any, Any, T]) -> T:
    """Run one library call's coroutine on the console's event loop (console_loop)."""
    with console_loop() as loop:
        return loop.run(work)


@contextlib.contextmanager
def _account_stops() -> Iterator[None]:
    """A refused account before any message (the capability lookup): exit 3."""
    try:
        yield
    except AccountError as exc:
        raise GatewayStop(str(exc)) from None


def _finish(err: Console, result: runner.RunResult) -> int:
    """Tell how the run ended (the dry run's samples too); the run's exit code."""
    report = result.report
    if err.quiet:
        # -q silences people's output, not the lines that say why the run stopped early.
        loud = _stderr()
        if report.stop_reason:
            loud.print(f"stopped by the gateway: {report.stop_reason}")
        if report.gave_up:
            loud.print(f"stopped: {report.gave_up}")
        if report.resumable:
            loud.print(RESUME)
    for sample in result.samples:
        body = {key: value for key, value in sample.items() if key != "row"}
        err.print(
            f"row {sample['row']} would go as: " + visible(json.dumps(body, ensure_ascii=False)),
            markup=False,
        )
    for line in report.lines():
        err.print(line)
    _echo_result(str(result.folder))
    return report.exit_code


@cli.command(epilog=_exit_codes())
@click.argument("campaign_file", type=click.Path(dir_okay=False))
@click.option(
    "--show",
    default=20,
    show_default=True,
    type=click.IntRange(min=0),
    help="List at most this many problem rows.",
)
def validate(campaign_file: str, show: int) -> int:
    """Check a campaign and every row, up to the first request; list the problems."""
    with _input_errors():
        campaign = load_campaign(campaign_file)
    err = _stderr()
    with _kept(campaign, report_root(campaign)):
        result = _console(api.validate_async(campaign, show=show, on_status=err.print))
    for line in result.lines():
        err.print(line, markup=False)
    if result.problems:
        problems = Table("row", "status", "input", "reason", title="Rows that will not be sent")
        for note in result.problems:
            # Text, not str: a cell is data, and `[/x]` in it is no markup for rich to parse.
            problems.add_row(
                str(note.row), note.status, _literal(note.input_phone), _literal(note.text)
            )
        Console(highlight=False).print(problems)
    if result.warned:
        warned = Table("row", "input", "warning", title="Rows sent with a warning")
        for note in result.warned:
            warned.add_row(str(note.row), _literal(note.input_phone), _literal(note.text))
        Console(highlight=False).print(warned)
    return result.exit_code


@cli.command()
@click.argument("campaign_file", type=click.Path(dir_okay=False))
@click.option(
    "-n",
    "count",
    default=5,
    show_default=True,
    type=click.IntRange(min=1),
    help="How many messages to show.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def preview(campaign_file: str, count: int, as_json: bool) -> int:
    """Show the first N merged messages exactly as the gateway would get them."""
    with _input_errors():
        campaign = load_campaign(campaign_file)
    with _kept(campaign, report_root(campaign)):
        shown = api.preview(campaign, count=count)
    out = Console(highlight=False, soft_wrap=True)
    err = _stderr()
    for item in shown:
        if item.warning is not None:
            err.print(f"row {item.row}: warning: {visible(item.warning)}", markup=False)
        if as_json:
            click.echo(json.dumps({"row": item.row, **item.params}, ensure_ascii=False))
        elif campaign.message.rich is not None:
            _print_rich(out, item.row, item.params, campaign.message.rich.form, item.rich)
        else:
            _print_params(out, item.row, item.params)
    if not shown:
        _stderr().print("no row would be sent: run `rcsbatch validate` to see why")
    return _printed()


def _print_rich(out: Console, row: int, params: dict[str, Any], form: str, obj: Any) -> None:
    """A rich row: the other parameters as a table, the RCS object as panels below it."""
    from rcsbatch.campaign.rich import CONTENT_KEYS
    from rcsbatch.campaign.richpreview import render

    rest = {k: v for k, v in params.items() if k not in (*CONTENT_KEYS, "suggestions")}
    _print_params(out, row, {**rest, "rich content": f"below (sent as {form})"})
    out.print(render(obj))


def _print_params(out: Console, row: int, params: dict[str, Any]) -> None:
    table = Table(title=f"row {row}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in params.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        table.add_row(key, _literal(shown))
    out.print(table)


def _literal(value: str) -> Text:
    """Recipient data or a template for a rich table: shown as written, never read as markup
    (`[i]` stays, `[/STOP]` cannot crash), its control characters written out."""
    return Text(visible(value))


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8089, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--state",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Keep what the simulator accepted in this file across restarts.",
)
@click.option(
    "--latency-ms", default=0.0, show_default=True, type=float, help="Delay added to every request."
)
@click.option(
    "--api-key",
    callback=lambda ctx, param, value: _plain_key(value),
    help="Accept only this key (default: any key).",
)
@click.option("--price", help="Price per message, e.g. 0.0475.")
@click.option("--balance", help="Starting balance, e.g. 500.00.")
def simulator(
    host: str,
    port: int,
    state: Path | None,
    latency_ms: float,
    api_key: str | None,
    price: str | None,
    balance: str | None,
) -> int:
    """Run the gateway simulator on its own, until Ctrl-C.

    Point rcsbatch (or any client) at it with SEVEN_BASE_URL=http://HOST:PORT/api.
    More fault knobs can be set while it runs through POST /_sim/faults.
    """
    prices = {
        name: _decimal_option(f"--{name}", value)
        for name, value in (("price", price), ("balance", balance))
        if value is not None
    }
    err = _stderr()

    def ready(base_url: str) -> None:
        err.print(f"simulating seven's gateway at {base_url} (Ctrl-C stops)")

    try:
        with _input_errors():
            api.serve_simulator(
                host=host,
                port=port,
                state=state,
                latency_ms=latency_ms,
                api_key=api_key,
                price=prices.get("price"),
                balance=prices.get("balance"),
                ready=ready,
                stop_on_signals=True,
            )
    except OSError as exc:
        raise InputProblem(
            f"cannot serve on {host}:{port} ({exc.strerror or exc}); "
            "is another simulator running? choose another --port"
        ) from None
    return 0


def _plain_key(value: str | None) -> str | None:
    """A key the simulator is to accept: one an HTTP header can carry (printable ASCII), or no
    client could ever use it and every request would be refused."""
    if value is not None and not (value.isascii() and value.isprintable() and value.strip()):
        raise click.BadParameter(
            "a key holds printable ASCII characters only (seven's keys are letters and digits); "
            "a header cannot carry any other, so every request would be refused",
            param_hint="--api-key",
        )
    return value


def _decimal_option(name: str, value: str) -> Any:
    from decimal import Decimal, InvalidOperation

    try:
        return Decimal(value)
    except InvalidOperation:
        raise click.BadParameter(f"{value!r} is not a number", param_hint=name) from None


class _PlainFormatter(logging.Formatter):
    """Log lines with their control characters written out (they may quote the gateway)."""

    def format(self, record: logging.LogRecord) -> str:
        return visible(super().format(record))


def _logging(verbose: bool, quiet: bool) -> None:
    level = logging.INFO if verbose else logging.ERROR if quiet else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_PlainFormatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("rcsbatch")
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False


# ---- delivery reports: `webhook serve` and `hooks` ------------------------------------------

SIGNING_KEY_ENV = api.servers.SIGNING_KEY_ENV
HOOK_METHODS = api.account.HOOK_METHODS


class GatewayStop(click.ClickException):
    """The gateway refused the account (key, rights, IP): exit code 3."""

    exit_code = 3


@cli.group()
def webhook() -> None:
    """Receive seven's delivery reports into a campaign's journal."""


@webhook.command("serve")
@click.argument("campaign_file", type=click.Path(dir_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--public-url",
    help="The URL seven calls, when a proxy in front changes it (scheme, host and path; each "
    "request's query string is taken as it arrives). Signatures cover it.",
)
@report_dir_option
@click.option(
    "--insecure-no-signature",
    is_flag=True,
    help=f"Run without ${SIGNING_KEY_ENV}: accept unsigned reports, which anyone who finds the "
    "URL can forge. Only for an account without a signing key.",
)
@click.option(
    "--idle-timeout",
    type=click.FloatRange(0, min_open=True),
    default=10.0,
    show_default=True,
    help="Seconds a connection may stay open without sending a whole request head.",
)
@click.option(
    "--body-timeout",
    type=click.FloatRange(0, min_open=True),
    default=3.0,
    show_default=True,
    help="Seconds a request's body may take to arrive after its headers (seven wants an answer "
    "within 5).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
@click.option("-v", "--verbose", is_flag=True, help="Log every request's outcome on stderr.")
def webhook_serve(
    campaign_file: str,
    host: str,
    port: int,
    public_url: str | None,
    report_dir: Path | None,
    insecure_no_signature: bool,
    idle_timeout: float,
    body_timeout: float,
    quiet: bool,
    verbose: bool,
) -> int:
    """Receive delivery reports for a campaign until Ctrl-C.

    Every report is checked against $SEVEN_SIGNING_KEY (the account's webhook signing key) and
    stored in the campaign's journal, so the next run's results show delivery_status and
    delivered_at. It may run while `rcsbatch run` sends the same campaign. Reports about
    messages the campaign does not know (webhooks are per account) are kept aside in the
    journal. Make the port reachable for seven (a proxy with TLS in front), then register the
    URL with `rcsbatch hooks register URL`.
    """
    from rcsbatch.delivery import receiver

    _logging(verbose, quiet)
    err = _stderr(quiet)
    with _input_errors():
        campaign = load_campaign(campaign_file)
    if insecure_no_signature and os.environ.get(SIGNING_KEY_ENV, "").strip():
        err.print(f"{SIGNING_KEY_ENV} is set: signatures are checked all the same")

    def ready(found: receiver.Receiver) -> None:
        signed = found.settings.signing_key is not None
        checked = "signed reports only" if signed else "UNSIGNED reports accepted (insecure)"
        err.print(
            f"receiving delivery reports for {campaign.name} at {found.url} ({checked}; "
            "Ctrl-C stops); register the URL seven calls with `rcsbatch hooks register URL`"
        )

    try:
        with _input_errors():
            counts = api.serve_webhooks(
                campaign,
                allow_unsigned=insecure_no_signature,
                host=host,
                port=port,
                public_url=public_url,
                idle_timeout=idle_timeout,
                body_timeout=body_timeout,
                ready=ready,
                stop_on_signals=True,
            )
    except OSError as exc:
        raise InputProblem(
            f"cannot serve on {host}:{port} ({exc.strerror or exc}); choose another --port"
        ) from None
    err.print("stopped; " + (", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "idle"))
    return 0


@cli.group()
def hooks() -> None:
    """Register, list and remove the account's webhooks at seven.

    The key comes from $SEVEN_API_KEY, the gateway from $SEVEN_BASE_URL, as for `run`.
    """


@hooks.command("register")
@click.argument("url")
@click.option(
    "--event-type",
    default="dlr",
    show_default=True,
    help="seven's event type: dlr (delivery reports), all, rcs, sms_mo, tracking, …",
)
@click.option(
    "--method",
    "request_method",
    default="POST",
    show_default=True,
    type=click.Choice(HOOK_METHODS, case_sensitive=False),
    help="How seven calls: POST (form), GET (query string) or JSON (POST with a JSON body).",
)
def hooks_register(url: str, event_type: str, request_method: str) -> int:
    """Have seven call URL for each event; prints the new hook's id on stdout."""
    hook_id = _account_call(
        api.register_hook_async(url, event_type=event_type, method=request_method),
        arguments={"url": "URL"},
    )
    click.echo(hook_id)
    return _printed()


@hooks.command("list")
@click.option("--json", "as_json", is_flag=True, help="The gateway's hook objects, one a line.")
def hooks_list(as_json: bool) -> int:
    """List the account's webhooks on stdout: id, event type, method, URL (tab-separated)."""
    found = _account_call(api.list_hooks_async())
    for hook in found:
        if as_json:
            click.echo(json.dumps(hook, default=str, ensure_ascii=False))
        else:
            fields = ("id", "event_type", "request_method", "target_url")
            click.echo("\t".join(str(hook.get(f, "")) for f in fields))
    return _printed()


@hooks.command("remove")
@click.argument("hook_id", metavar="ID")
def hooks_remove(hook_id: str) -> int:
    """Remove the webhook with this id (exit 1 when the gateway has none)."""
    if not _account_call(api.remove_hook_async(hook_id)):
        raise click.ClickException(f"the gateway has no webhook with id {hook_id}")
    _stderr().print(f"removed webhook {hook_id}")
    return 0


def _account_call(work: Coroutine[Any, Any, T], arguments: Mapping[str, str] | None = None) -> T:
    """Run one library call of the account's (hooks, agents), whose gateway is the environment's,
    on the console's loop; its errors as exit codes (`arguments`: see _input_errors)."""
    try:
        with _input_errors(ACCOUNT_HINTS, arguments):
            return _console(work)
    except AccountError as exc:
        raise GatewayStop(str(exc)) from None
    except GatewayError as exc:
        raise click.ClickException(str(exc)) from None


def _printed() -> int:
    """The exit code of a command whose product is what it printed: 2 when stdout could not
    take it (a full device; a reader that left is its own choice, see process.py), else 0."""
    return EXIT_INPUT if process.tell_stdout_lost() else 0


# ---- report ---------------------------------------------------------------------------------


@cli.command("report", epilog=_exit_codes("report"))
@click.argument("campaign_file", type=click.Path(dir_okay=False))
@click.option("--run", "run_id", help="Only this run (its id, as `run` printed it); default: all.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json", "xlsx", "html"]),
    default="table",
    show_default=True,
    help="table: for people; csv, json: for scripts; xlsx: a workbook with every recipient; "
    "html: one page with charts that opens offline.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path, allow_dash=True),
    help="Write to this file, or `-` for stdout, in every format (default: stdout; xlsx and "
    "html: report.xlsx / report.html in the campaign's report folder).",
)
@csv_option
@report_dir_option
@click.option(
    "--simulate", is_flag=True, help="Report the campaign's simulated runs (`run --simulate`)."
)
def report(
    campaign_file: str,
    run_id: str | None,
    fmt: str,
    output: Path | None,
    csv_dialect: str | None,
    report_dir: Path | None,
    simulate: bool,
) -> int:
    """Report a campaign's outcome and costs from its journal, across all runs or one.

    Counts per status and gateway error code, the delivery funnel, cost in total and per label,
    country, day and run, balances and send rates. A file written is printed on stdout.
    """
    from rcsbatch.reports.formats import FILE_FORMATS

    with _input_errors():
        campaign = load_campaign(campaign_file)
        root = report_root(campaign, report_dir)
    to_stdout = str(output) == "-" if output is not None else fmt not in FILE_FORMATS
    chosen = () if to_stdout or output is None else (output.expanduser().absolute(),)
    with _kept(campaign, root, *chosen, nothing_sent=False):
        written = api.write_report(
            campaign,
            fmt,
            output=sys.stdout if to_stdout else output,
            run_id=run_id,
            simulate=simulate,
            report_dir=root,
            csv_dialect=csv_dialect,
        )
    if written is None:
        return _printed()
    _echo_result(str(written))
    return 0


# ---- revoke, agents and test sends ----------------------------------------------------------


def _interactive() -> bool:
    """Whether a person can answer a question (stdin is a terminal)."""
    return sys.stdin.isatty()


@cli.command(epilog=_exit_codes("revoke"))
@click.argument("campaign_file", type=click.Path(dir_okay=False))
@click.option("--run", "run_id", help="Only the messages this run sent (its folder's name).")
@click.option(
    "--only-scheduled",
    is_flag=True,
    help="Only messages whose delay is still ahead (scheduled, not gone out yet).",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (for cron and scripts).")
@report_dir_option
@click.option(
    "--simulate",
    is_flag=True,
    help="Revoke through the built-in simulator the campaign was run with.",
)
def revoke(
    campaign_file: str,
    run_id: str | None,
    only_scheduled: bool,
    yes: bool,
    report_dir: Path | None,
    simulate: bool,
) -> int:
    """Ask the gateway to delete the campaign's messages that have not arrived yet.

    seven answers "true" whether or not it deleted anything, so rows become revoke_requested;
    they show as revoked once a delivery report (webhook or `rcsbatch sync`) says the message
    never arrived. Revoke-requested rows are never sent again. Asking twice sends nothing new.
    """
    from rcsbatch.actions.revoke import RevokePlan

    if not yes and not _interactive():
        raise InputProblem(
            "revoke asks for confirmation, and there is no terminal to ask in: "
            "pass --yes to revoke without asking"
        )
    err = _stderr()
    with _input_errors():
        campaign = load_campaign(campaign_file)
    root = report_root(campaign, report_dir)

    def confirm(found: RevokePlan) -> bool:
        what = "scheduled messages" if only_scheduled else "messages not delivered yet"
        err.print(f"{len(found.ids)} {what} ({found.rows} rows) will be asked to be deleted")
        return yes or click.confirm("revoke them?", default=False, err=True)

    with _kept(campaign, root, nothing_sent=False), _account_stops():
        result = _console(
            api.revoke_messages_async(
                campaign,
                confirm=confirm,
                simulate=simulate,
                report_dir=root,
                run_id=run_id,
                only_scheduled=only_scheduled,
                on_warning=_loud,
            )
        )
    found, stats, folder = result.plan, result.stats, result.folder
    done = found.already
    if done["revoke_requested"] or done["revoked"]:
        err.print(
            f"asked before: {done['revoke_requested'] + done['revoked']} rows "
            f"({done['revoked']} confirmed revoked); not asked again"
        )
    if done["unknown"]:
        err.print(
            f"{done['unknown']} rows have no message id (answer lost): run the campaign or "
            "`rcsbatch sync` first to settle them"
        )
    if done["sendable"]:
        err.print(
            f"{done['sendable']} rows were never sent: a later `rcsbatch run` would send them"
        )
    if not found.ids:
        err.print("nothing to revoke")
        return result.exit_code
    if stats is None:
        err.print("nothing revoked")
        return result.exit_code
    err.print(
        f"revoke requested for {stats.requested} messages; seven confirms nothing at once: "
        "`rcsbatch sync` (or delivery webhooks) shows which were revoked"
    )
    if stats.refused:
        err.print(f"{stats.refused} requests answered false")
    if stats.failed:
        err.print(f"{len(stats.failed)} requests failed: run the same command again to retry them")
    if folder is not None:
        _echo_result(str(folder))
    if stats.stop_reason:
        raise GatewayStop(stats.stop_reason)
    return result.exit_code


@cli.command(epilog=_exit_codes("agents"))
@click.option("--json", "as_json", is_flag=True, help="The gateway's agent objects, one a line.")
def agents(as_json: bool) -> int:
    """List the account's RCS agents on stdout: id, status, display name (tab-separated).

    An agent in test status reaches only the test numbers stored for it (see run --test-to).
    """
    found = _account_call(api.list_agents_async())
    for agent in found:
        if as_json:
            click.echo(json.dumps(agent, default=str, ensure_ascii=False))
        else:
            click.echo("\t".join(str(agent.get(f, "")) for f in ("id", "status", "display_name")))
    return _printed()


# ---- events and capabilities ----------------------------------------------------------------


@cli.command("event", epilog=_exit_codes("event"))
@click.option("--to", help="The number the event goes to.")
@click.option("--msg-id", help="The inbound message the event answers.")
@click.option(
    "--file",
    "file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Many events: a CSV/xlsx/Parquet file with a column `to` or `msg_id` (one per row) "
    "and optionally `event`; results go to <file>.results.csv beside it.",
)
@click.option("--event", "event_name", help="READ or IS_TYPING (a file's `event` cells win).")
@click.option("--from", "sender", help="The agent id the event comes from.")
@click.option("--region", default="DE", show_default=True, help="Country of national numbers.")
@click.option(
    "--concurrency",
    default=8,
    show_default=True,
    type=click.IntRange(1, 100),
    help="Events in flight at once (--file).",
)
@click.option(
    "--simulate", is_flag=True, help="Send to a throwaway built-in simulator (no account)."
)
@csv_option
@click.option("-q", "--quiet", is_flag=True, help="Print only the results file (on stdout).")
@click.option("-v", "--verbose", is_flag=True, help="Log each retry on stderr.")
def event(
    to: str | None,
    msg_id: str | None,
    file: Path | None,
    event_name: str | None,
    sender: str | None,
    region: str,
    concurrency: int,
    simulate: bool,
    csv_dialect: str | None,
    quiet: bool,
    verbose: bool,
) -> int:
    """Send an RCS event (READ, IS_TYPING) to a number or an inbound message, or many from a file.

    Every value is checked before the first request. Requests that surely did not arrive
    (429, 503, unreachable) are retried; a lost answer is reported `unknown`, not retried.
    The key comes from $SEVEN_API_KEY, the gateway from $SEVEN_BASE_URL, as for `run`.
    """
    _logging(verbose, quiet)
    err = _stderr(quiet)
    if file is not None:
        if to or msg_id:
            raise InputProblem("give --file or --to/--msg-id, not both")
        work = api.send_events_async(
            file,
            event=event_name,
            sender=sender,
            region=region,
            concurrency=concurrency,
            simulate=simulate,
            csv_dialect=csv_dialect,
        )
    else:
        if event_name is None:
            raise InputProblem("give --event READ or --event IS_TYPING")
        # The library's own check names its parameters; this one the flags.
        if bool(to and to.strip()) == bool(msg_id and msg_id.strip()):
            raise InputProblem(
                "give exactly one of --to NUMBER and --msg-id ID (the message the event answers)"
            )
        work = api.send_event_async(
            event_name, to=to, msg_id=msg_id, sender=sender, region=region, simulate=simulate
        )
    with _input_errors():
        result = _console(work)
    err.print(", ".join(f"{n} {status}" for status, n in sorted(result.counts.items())))
    if result.error:
        raise click.ClickException(result.error)
    if result.path is not None:
        _echo_result(str(result.path))
    elif result.events[0].error:
        err.print(result.events[0].error)
    if result.stop_reason:
        raise GatewayStop(f"stopped by the gateway: {result.stop_reason}")
    return result.exit_code


@cli.command("capabilities", epilog=_exit_codes("capabilities"))
@click.argument("target", type=click.Path(dir_okay=False))
@click.option(
    "--phone-column",
    default="phone",
    show_default=True,
    help="The column of numbers (a plain file; a campaign uses its own).",
)
@click.option(
    "--region",
    default="DE",
    show_default=True,
    help="Country of national numbers (a plain file; a campaign uses its default_region).",
)
@click.option(
    "--max-age",
    default="30d",
    show_default=True,
    help="Reuse a cached lookup younger than this (s, m, h, d, w); older ones are looked up.",
)
@click.option(
    "--yes",
    is_flag=True,
    help="Do not ask before the (billed) lookups (needed without a terminal).",
)
@click.option(
    "--lookup-price",
    help="Price of one lookup, to show the cost before (default: the simulator's, else unknown).",
)
@report_dir_option
@click.option(
    "--simulate",
    is_flag=True,
    help="Look up through the built-in simulator (a campaign's: the one `run --simulate` uses).",
)
@click.option("-q", "--quiet", is_flag=True, help="Print only the JSON summary (on stdout).")
def capabilities(
    target: str,
    phone_column: str,
    region: str,
    max_age: str,
    yes: bool,
    lookup_price: str | None,
    report_dir: Path | None,
    simulate: bool,
    quiet: bool,
) -> int:
    """Look up which recipients can receive RCS, rich cards and carousels (GET /lookup/rcs).

    TARGET is a campaign file (.toml: its sendable rows and those refused for their number
    type; answers cached in its journal) or a recipient file (answers cached in
    <report dir>/lookups.sqlite; report dir: --report-dir,
    else $RCSBATCH_REPORT_DIR, else `reports` beside the file). Lookups are billed per number:
    the count and cost are shown first and confirmed (or --yes); a number is never looked up
    again while its cached answer is younger than --max-age. Prints a JSON summary on stdout.
    """
    from rcsbatch.actions.capabilities import parse_age

    err = _stderr(quiet)
    path = Path(target).expanduser().resolve()
    with _input_errors():
        age = parse_age(max_age)
        chosen: Campaign | Path = load_campaign(path) if path.suffix.lower() == ".toml" else path
    price = _decimal_option("--lookup-price", lookup_price) if lookup_price else None

    def consent(plan: api.LookupPlan) -> bool:
        cost = f"{plan.cost} ({plan.due} × {plan.price})" if plan.price is not None else "unknown"
        err.print(
            f"{plan.numbers} numbers ({plan.skipped} cells skipped: not valid numbers); "
            f"{plan.numbers - plan.due} have a lookup younger than {max_age}; "
            f"{plan.due} to look up, cost {cost}"
        )
        if not plan.due:
            return False
        if not yes and not _interactive():
            # click.confirm would read no answer and abort with exit 1 ("Aborted!"): say why.
            raise InputProblem(
                "capabilities asks before the billed lookups, and there is no terminal to ask "
                "in: add --yes to look them up without asking"
            )
        return yes or click.confirm("look them up?", err=True)

    with _input_errors():
        result = _console(
            api.look_up_capabilities_async(
                chosen,
                accept_cost=consent,
                simulate=simulate,
                report_dir=report_dir,
                max_age=age,
                phone_column=phone_column,
                region=region,
                lookup_price=price,
                on_warning=_loud,
            )
        )
    stats = result.stats
    if stats is not None:
        err.print(
            f"looked up {stats.stored} numbers, cost {result.spent}"
            + (" (simulated)" if result.simulated else "")
        )
        for line in stats.errors[:3]:
            err.print(f"not looked up: {line}")
    for line in result.summary.lines():
        err.print(line)
    click.echo(json.dumps(result.summary.to_json()))
    if stats is not None and stats.stop_reason:
        raise GatewayStop(f"stopped by the gateway: {stats.stop_reason}")
    return result.exit_code


def run_command(args: list[str] | None = None) -> int:
    """Run the command line as the `rcsbatch` process does (process.main); its exit code.

    Ctrl-C and SIGTERM leave as process.Interrupted, for process.main to say and exit 130/143:
    click would turn them into "Aborted!" and exit 1, which cron reads as "some rows failed".
    """
    # A run makes millions of short-lived objects and few cycles: collecting less often spends
    # less of a long run walking objects that are about to die anyway. Cycles live longer,
    # memory stays bounded. Only here, for the process this command owns: a program that
    # imports rcsbatch keeps its own settings.
    gc.set_threshold(20_000, 20, 100)
    try:
        try:
            returned = cli.main(args, prog_name="rcsbatch", standalone_mode=False)
        finally:
            # Only the interpreter's shutdown comes after this: its collections need not walk
            # every object a large run leaves. Every file rcsbatch writes is closed by then; the
            # objects are still freed.
            gc.freeze()
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        click.echo(exc.code, err=True)
        return 1
    except click.ClickException as exc:
        vars(exc)["message"] = visible(exc.message)  # it may quote data: see _People
        exc.show()
        return exc.exit_code
    except click.Abort as exc:
        signum = process.signal_of(exc)
        if signum is not None:
            raise process.Interrupted(signum) from None
        # The end of input where a question wanted an answer (Ctrl-D): no answer is a no.
        click.echo("no answer: nothing was done", err=True)
        return 1
    return returned if isinstance(returned, int) else 0


def main() -> None:
    """Entry point of the `rcsbatch` console script (see process.main)."""
    process.main()
