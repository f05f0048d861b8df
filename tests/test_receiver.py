"""The webhook receiver end to end over real sockets: the simulator posts signed delivery reports,
the receiver checks them and stores them in the campaign's journal."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import select
import selectors
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import API_KEY, CampaignFactory

import rcsbatch
from rcsbatch.campaign.file import Campaign
from rcsbatch.cli import cli
from rcsbatch.delivery.receiver import BODY_TIMEOUT, IDLE_TIMEOUT, ReceiverServer, ReceiverSettings
from rcsbatch.engine.runner import RunResult
from rcsbatch.gateway.config import Gateway
from rcsbatch.simulator import SimulatorServer
from rcsbatch.simulator.hooks import sign
from rcsbatch.state.journal import Journal
from rcsbatch.state.paths import journal_path

R = CampaignFactory.recipient
KEY = "whsec-test-key"


def wait_for(done: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll `done` every 20 ms until it holds; fail after `timeout` seconds (generous, as a loaded
    machine may take seconds for what takes milliseconds on a quiet one)."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def delivery(campaign: Campaign) -> dict[str, tuple[Any, Any]]:
    """recipient -> (delivery_status, delivered_at), from the journal."""
    with Journal(journal_path(campaign, "simulator")) as j:
        return {str(r[1]): (r[16], r[17]) for r in j.result_rows()}


def strays(campaign: Campaign) -> list[tuple[Any, ...]]:
    with Journal(journal_path(campaign, "simulator")) as j:
        return j.db.execute("SELECT msg_id, state FROM stray_reports ORDER BY msg_id").fetchall()


@pytest.fixture
def campaign(make_campaign: CampaignFactory) -> Campaign:
    return make_campaign(3)


@pytest.fixture
def receiver(campaign: Campaign) -> Iterator[ReceiverServer]:
    """A receiver of the campaign's journal on a free port, checking KEY's signatures."""
    settings = ReceiverSettings(KEY, adopt_every=0.1)
    with ReceiverServer(journal_path(campaign, "simulator"), settings) as server:
        yield server


def send(campaign: Campaign, sim: SimulatorServer) -> RunResult:
    return rcsbatch.run(campaign, gateway=Gateway(sim.base_url, API_KEY, simulated=True))


def hook(sim: SimulatorServer, url: str, method: str = "JSON", event: str = "dlr") -> None:
    params = {"target_url": url, "event_type": event, "request_method": method}
    assert sim.backend.add_hook(params, API_KEY)["success"]


def webhooks(sim: SimulatorServer) -> list[dict[str, Any]]:
    return list(sim.state()["webhooks"])


def test_the_simulator_signs_as_the_documented_test_vector() -> None:
    """The simulator's own signer (not rcsbatch.delivery.webhook's) gives seven-gateway.md's
    vector."""
    body = (
        b'{"webhook_event":"dlr","webhook_timestamp":"2026-11-26T10:00:00+01:00",'
        b'"data":{"msg_id":"77149843739","status":"DELIVERED",'
        b'"timestamp":"2026-11-26 10:00:00.000000"}}'
    )
    url = "https://hooks.example.com/seven?campaign=spring"
    got = sign(
        "test-signing-key", "1764151200", "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6", "POST", url, body
    )
    assert got == "d14e030d28281e229028c752b8f417586b9f99380a319b7f5021c211cf72e915"


@pytest.mark.parametrize("method", ["POST", "GET", "JSON"])
def test_reports_arrive_signed_and_land_in_the_journal(
    sim: SimulatorServer, campaign: Campaign, receiver: ReceiverServer, method: str
) -> None:
    """Each hook form: every message ends DELIVERED at the simulator's delivery time."""
    sim.backend.update_account({"signing_key": KEY})
    sim.set_faults(webhooks=True)
    hook(sim, receiver.url + "seven/dlr?campaign=spring", method)
    send(campaign, sim)
    wait_for(lambda: all(s == "DELIVERED" for s, _ in delivery(campaign).values()))
    truth = {m.to: m.dlr_at for m in sim.backend.accepted()}
    for to, (_, at) in delivery(campaign).items():
        assert at == pytest.approx(truth[to], abs=1e-5)
    assert all(w["http_status"] == 200 for w in webhooks(sim))
    assert receiver.receiver.counts.get("stored", 0) >= 3


def test_a_later_run_reports_the_delivery_states(
    sim: SimulatorServer, make_campaign: CampaignFactory, receiver: ReceiverServer
) -> None:
    """results.parquet of the next run shows delivery_status and delivered_at per row."""
    campaign = make_campaign(3)
    sim.backend.update_account({"signing_key": KEY})
    sim.set_faults(webhooks=True, delivery_for={R(2): "NOTDELIVERED"})
    hook(sim, receiver.url, "POST", event="all")
    send(campaign, sim)
    wait_for(
        lambda: all(s in ("DELIVERED", "NOTDELIVERED") for s, _ in delivery(campaign).values())
    )
    table = pq.read_table(send(campaign, sim).folder / "results.parquet").to_pylist()
    got = {r["recipient"]: r["delivery_status"] for r in table}
    assert got == {R(1): "DELIVERED", R(2): "NOTDELIVERED", R(3): "DELIVERED"}
    assert all(r["delivered_at"] is not None for r in table)


def test_duplicates_and_reordered_reports_end_in_the_final_state(
    sim: SimulatorServer, campaign: Campaign, receiver: ReceiverServer
) -> None:
    """Every report twice and the final before TRANSMITTED: the rows still end DELIVERED."""
    sim.backend.update_account({"signing_key": KEY})
    sim.set_faults(webhooks=True, webhook_duplicate_rate=1.0, webhook_reorder=True)
    hook(sim, receiver.url)
    send(campaign, sim)
    wait_for(lambda: len(webhooks(sim)) == 12)  # 3 messages x 2 states x 2 copies
    wait_for(lambda: sum(receiver.receiver.counts.values()) == 12)
    assert {s for s, _ in delivery(campaign).values()} == {"DELIVERED"}
    assert receiver.receiver.counts == {"stored": 3, "kept": 9}
    order = [w["status"] for w in webhooks(sim) if w["msg_id"] == sim.backend.accepted()[0].id]
    assert order[0] == "DELIVERED"


def test_reports_signed_with_another_key_are_refused_and_not_stored(
    sim: SimulatorServer, campaign: Campaign, receiver: ReceiverServer
) -> None:
    """401 for each report; the simulator does not retry a 4xx; nothing reaches the journal."""
    sim.backend.update_account({"signing_key": "not-the-key"})
    sim.set_faults(webhooks=True)
    hook(sim, receiver.url)
    send(campaign, sim)
    wait_for(lambda: len(webhooks(sim)) == 6)
    time.sleep(0.3)
    assert {w["http_status"] for w in webhooks(sim)} == {401}
    assert len(webhooks(sim)) == 6
    assert receiver.receiver.counts == {"refused_bad": 6}
    assert {s for s, _ in delivery(campaign).values()} == {None}


def test_a_receiver_that_was_down_gets_the_reports_by_retry(
    sim: SimulatorServer, campaign: Campaign
) -> None:
    """Connection refused, then up: the simulator's retries deliver every report."""
    sim.backend.update_account({"signing_key": KEY})
    sim.set_faults(webhooks=True, webhook_retry_s=0.1)
    settings = ReceiverSettings(KEY)
    first = ReceiverServer(journal_path(campaign, "simulator"), settings).start()
    port = int(first.url.rsplit(":", 1)[1].strip("/"))
    first.stop()
    hook(sim, first.url)
    send(campaign, sim)
    wait_for(lambda: len(webhooks(sim)) >= 6)
    assert all(w["error"] for w in webhooks(sim))
    path = journal_path(campaign, "simulator")
    with ReceiverServer(path, settings, port=port):
        wait_for(lambda: all(s == "DELIVERED" for s, _ in delivery(campaign).values()))


# ---- requests made by hand ------------------------------------------------------------------


def signed(
    url: str,
    body: bytes,
    *,
    method: str = "POST",
    key: str = KEY,
    at: float | None = None,
    signed_url: str | None = None,
) -> dict[str, str]:
    """seven's headers for a request, computed here from the document (a third implementation)."""
    ts = str(int(time.time() if at is None else at))
    nonce = "00112233445566778899aabbccddeeff"
    md5 = hashlib.md5(body).hexdigest()
    text = f"{ts}\n{nonce}\n{method}\n{signed_url or url}\n{md5}"
    sig = hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()
    return {"X-Signature": sig, "X-Timestamp": ts, "X-Nonce": nonce}


def report(msg_id: str, status: str = "DELIVERED", at: str = "2026-11-26 10:00:00.000000") -> bytes:
    data = {"msg_id": msg_id, "status": status, "timestamp": at}
    return json.dumps({"webhook_event": "dlr", "data": data}).encode()


def post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(url, content=body, headers={**headers, "Content-Type": "application/json"})


@pytest.fixture
def sent(sim: SimulatorServer, campaign: Campaign) -> list[str]:
    """The campaign sent through the simulator (no webhooks): its message ids, row order."""
    send(campaign, sim)
    return [m.id for m in sorted(sim.backend.accepted(), key=lambda m: m.to)]


def test_a_replayed_request_stores_nothing_new_and_an_old_one_is_refused(
    sent: list[str], campaign: Campaign, receiver: ReceiverServer
) -> None:
    """The same signed request twice: 200 both times, stored once; past max_age: 401 stale."""
    url = receiver.url + "hook?campaign=spring"
    body = report(sent[0])
    headers = signed(url, body)
    first, second = post(url, body, headers), post(url, body, headers)
    assert (first.status_code, first.json()) == (200, {"stored": 1})
    assert (second.status_code, second.json()) == (200, {"kept": 1})
    old = post(url, body, signed(url, body, at=time.time() - 400))
    assert old.status_code == 401 and "stale" in old.json()["error"]
    assert delivery(campaign)[R(1)][0] == "DELIVERED"


def test_an_older_report_arriving_late_changes_nothing(
    sent: list[str], campaign: Campaign, receiver: ReceiverServer
) -> None:
    """DELIVERED, then a TRANSMITTED from before it: the row stays DELIVERED at its time."""
    url = receiver.url
    late = report(sent[0], "DELIVERED", "2026-11-26 10:00:05.000000")
    early = report(sent[0], "TRANSMITTED", "2026-11-26 10:00:00.000000")
    assert post(url, late, signed(url, late)).json() == {"stored": 1}
    assert post(url, early, signed(url, early)).json() == {"kept": 1}
    assert delivery(campaign)[R(1)] == ("DELIVERED", 1795683605.0)


@pytest.mark.parametrize(
    "change",
    [
        lambda u, b: {},
        lambda u, b: signed(u, b, key="wrong"),
        lambda u, b: signed(u, b + b" "),
        lambda u, b: signed(u, b, method="GET"),
        lambda u, b: signed(u, b, at=time.time() + 3600),
    ],
    ids=["unsigned", "wrong-key", "other-body", "other-method", "future"],
)
def test_bad_signatures_get_401_and_store_nothing(
    sent: list[str],
    campaign: Campaign,
    receiver: ReceiverServer,
    change: Callable[[str, bytes], dict[str, str]],
) -> None:
    """Missing, wrong or stale signatures: 401, the journal untouched."""
    url = receiver.url
    body = report(sent[0])
    assert post(url, body, change(url, body)).status_code == 401
    assert delivery(campaign)[R(1)] == (None, None)


def raw_strays(campaign: Campaign) -> list[tuple[Any, ...]]:
    """The unreadable bodies kept raw: (payload, why)."""
    with Journal(journal_path(campaign, "simulator")) as j:
        return j.db.execute(
            "SELECT payload, unreadable FROM stray_reports WHERE msg_id IS NULL"
        ).fetchall()


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[" * 100_000,
        b'{"webhook_event": "dlr", "data": {"status": "DELIVERED"}}',
        b'{"webhook_event": "dlr", "data": [1, 2]}',
        b"\xff\xfe not text",
        b"",
    ],
    ids=["not-json", "nested-deeply", "no-msg-id", "odd-shape", "not-utf8", "empty"],
)
def test_a_signed_body_that_is_no_report_gets_200_and_is_kept_raw(
    campaign: Campaign, receiver: ReceiverServer, body: bytes
) -> None:
    """Unreadable but correctly signed: 200 (seven may not retry a 4xx), the body kept as it came,
    once however often it comes."""
    url = receiver.url
    first, again = (post(url, body, signed(url, body)) for _ in range(2))
    assert (first.status_code, first.json()) == (200, {"raw": 1})
    assert (again.status_code, again.json()) == (200, {"kept": 1})
    ((payload, why),) = raw_strays(campaign)
    assert (payload if isinstance(payload, bytes) else payload.encode()) == body and why
    assert receiver.receiver.counts == {"unreadable": 2}


def test_an_unsigned_unreadable_body_gets_400_from_the_insecure_receiver(
    campaign: Campaign,
) -> None:
    """--insecure-no-signature: nobody vouches for an unreadable body, so it is not kept."""
    with ReceiverServer(journal_path(campaign, "simulator"), ReceiverSettings(None)) as server:
        assert post(server.url, b"[" * 100_000, {}).status_code == 400
    assert raw_strays(campaign) == []


def test_reports_for_unknown_ids_get_200_and_are_kept_aside(
    sent: list[str], campaign: Campaign, receiver: ReceiverServer
) -> None:
    """Another campaign's message: 2xx (else seven retries for days), stored as a stray."""
    url = receiver.url
    body = report("999", "READ")
    response = post(url, body, signed(url, body))
    assert (response.status_code, response.json()) == (200, {"stray": 1})
    assert strays(campaign) == [("999", "READ")]


def test_events_other_than_delivery_get_200_and_are_dropped(receiver: ReceiverServer) -> None:
    """An inbound RCS message is acknowledged, not stored."""
    url = receiver.url
    body = json.dumps({"webhook_event": "rcs", "data": {"msg_id": "5", "text": "hi"}}).encode()
    assert post(url, body, signed(url, body)).json() == {"ignored": True}


def test_a_get_on_any_path_is_read_from_its_query(
    sent: list[str], campaign: Campaign, receiver: ReceiverServer
) -> None:
    """request_method GET: the report is the query string, signed over md5("")."""
    url = (
        f"{receiver.url}any/path?webhook_event=dlr&data%5Bmsg_id%5D={sent[1]}&data%5Bstatus%5D=READ"
    )
    response = httpx.get(url, headers=signed(url, b"", method="GET"))
    assert response.status_code == 200
    assert delivery(campaign)[R(2)][0] == "READ"


def test_behind_a_proxy_the_public_url_is_what_is_checked(
    sent: list[str], campaign: Campaign
) -> None:
    """With --public-url the signature over seven's URL passes, one over the local URL not."""
    public = "https://hooks.example.com/seven"
    settings = ReceiverSettings(KEY, public_url=public)
    with ReceiverServer(journal_path(campaign, "simulator"), settings) as server:
        local = server.url + "dlr?campaign=spring"
        body = report(sent[0])
        seen = signed(local, body, signed_url=public + "?campaign=spring")
        assert post(local, body, seen).status_code == 200
        assert post(local, body, signed(local, body)).status_code == 401


def test_a_report_that_overtakes_its_answer_is_applied_once_the_id_is_known(
    campaign: Campaign, receiver: ReceiverServer, sim: SimulatorServer
) -> None:
    """A report for the id the run records next is a stray first, then adopted on its row."""
    url = receiver.url
    body = report(str(sim.backend.next_id))
    assert post(url, body, signed(url, body)).json() == {"stray": 1}
    send(campaign, sim)
    wait_for(lambda: delivery(campaign)[R(1)][0] == "DELIVERED")
    assert strays(campaign) == []


def test_a_busy_journal_gets_503_in_time_and_the_report_is_stored_after(
    sent: list[str], campaign: Campaign
) -> None:
    """A run holding the journal's write lock: 503 within answer_within, stored once free."""
    path = journal_path(campaign, "simulator")
    settings = ReceiverSettings(KEY, answer_within=0.3)
    with ReceiverServer(path, settings) as server:
        url = server.url
        body = report(sent[0])
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            started = time.monotonic()
            response = post(url, body, signed(url, body))
            assert response.status_code == 503
            # Far below the 5 s an answer stuck behind the lock would take to time out.
            assert time.monotonic() - started < 4
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        wait_for(lambda: delivery(campaign)[R(1)][0] == "DELIVERED")


def test_without_a_key_the_insecure_receiver_takes_unsigned_reports(
    sent: list[str], campaign: Campaign
) -> None:
    """signing_key None (--insecure-no-signature): an unsigned report is stored."""
    path = journal_path(campaign, "simulator")
    with ReceiverServer(path, ReceiverSettings(None)) as server:
        assert post(server.url, report(sent[0]), {}).json() == {"stored": 1}


# ---- the command line -------------------------------------------------------------------------


def test_serve_offers_the_receivers_own_time_bounds() -> None:
    """--idle-timeout and --body-timeout default to the library's numbers (the CLI does not import
    the receiver, and aiohttp with it, to show its help)."""
    serve = cli.commands["webhook"].commands["serve"]  # type: ignore[attr-defined]
    defaults = {p.name: p.default for p in serve.params}
    assert (defaults["idle_timeout"], defaults["body_timeout"]) == (IDLE_TIMEOUT, BODY_TIMEOUT)


def test_serve_refuses_to_start_without_a_signing_key(campaign: Campaign) -> None:
    """No $SEVEN_SIGNING_KEY and no --insecure-no-signature: exit 2 saying what to set."""
    result = CliRunner().invoke(
        cli, ["webhook", "serve", str(campaign.path)], env={"SEVEN_SIGNING_KEY": ""}
    )
    assert result.exit_code == 2 and "SEVEN_SIGNING_KEY" in result.stderr


def test_serve_refuses_a_public_url_with_a_query(campaign: Campaign) -> None:
    """--public-url takes scheme, host and path; a query string there is an input error."""
    result = CliRunner().invoke(
        cli,
        ["webhook", "serve", str(campaign.path), "--public-url", "https://h.example/x?a=1"],
        env={"SEVEN_SIGNING_KEY": KEY},
    )
    assert result.exit_code == 2 and "query" in result.stderr


def test_hooks_register_list_and_remove_through_the_gateway(sim: SimulatorServer) -> None:
    """register prints the id; list shows it tab-separated; remove drops it; again: exit 1."""
    env = {"SEVEN_API_KEY": API_KEY, "SEVEN_BASE_URL": sim.base_url}
    runner = CliRunner()
    url = "https://hooks.example.com/seven?campaign=spring"
    added = runner.invoke(cli, ["hooks", "register", url, "--method", "json"], env=env)
    assert added.exit_code == 0, added.output
    hook_id = added.stdout.strip()
    listed = runner.invoke(cli, ["hooks", "list"], env=env)
    assert listed.stdout.splitlines() == [f"{hook_id}\tdlr\tJSON\t{url}"]
    assert runner.invoke(cli, ["hooks", "remove", hook_id], env=env).exit_code == 0
    assert runner.invoke(cli, ["hooks", "list"], env=env).stdout == ""
    gone = runner.invoke(cli, ["hooks", "remove", hook_id], env=env)
    assert gone.exit_code == 1 and "no webhook" in gone.stderr


@pytest.mark.parametrize(
    ("args", "env", "code"),
    [
        (["register", "ftp://x"], {}, 2),
        (["register", "https://x.example", "--event-type", "nonsense"], {}, 1),
        (["list"], {"SEVEN_API_KEY": ""}, 2),
        (["list"], {"SEVEN_API_KEY": "refused"}, 3),
    ],
    ids=["not-http", "refused-event", "no-key", "refused-key"],
)
def test_hooks_errors_have_their_exit_codes(
    sim: SimulatorServer, args: list[str], env: dict[str, str], code: int
) -> None:
    """A bad URL or no key: 2; the gateway refusing the hook: 1; refusing the key: 3."""
    sim.set_faults(refuse_key="refused")
    full = {"SEVEN_API_KEY": API_KEY, "SEVEN_BASE_URL": sim.base_url, **env}
    result = CliRunner().invoke(cli, ["hooks", *args], env=full)
    assert result.exit_code == code, result.output


@pytest.mark.parametrize("command", [["hooks", "list"], ["agents"]], ids=["hooks", "agents"])
def test_account_commands_without_key_say_how_to_set_one(command: list[str]) -> None:
    """`hooks` and `agents` without a key: exit 2, the key's one message, no --simulate (they
    have none)."""
    result = CliRunner().invoke(cli, command, env={"SEVEN_API_KEY": ""})
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: no API key: set SEVEN_API_KEY to your seven API key (seven's dashboard → "
        "Developer → API keys)\n"
    )


def test_hooks_register_refuses_a_url_before_asking_for_a_key() -> None:
    """A URL that is not http(s) is a bad argument, said as click says one (with the usage),
    before any key is needed."""
    result = CliRunner().invoke(cli, ["hooks", "register", "ftp://x"], env={"SEVEN_API_KEY": ""})
    assert result.exit_code == 2
    assert "Usage: " in result.stderr
    assert "Error: Invalid value for URL: 'ftp://x' is not an http(s) URL" in result.stderr
    assert "SEVEN_API_KEY" not in result.stderr


def test_webhook_serve_runs_as_a_process_until_sigterm(sent: list[str], campaign: Campaign) -> None:
    """`rcsbatch webhook serve` listens, stores a signed report, stops cleanly on SIGTERM."""
    env = {**os.environ, "SEVEN_SIGNING_KEY": KEY, "COLUMNS": "500"}
    command = [sys.executable, "-m", "rcsbatch", "webhook", "serve", str(campaign.path)]
    proc = subprocess.Popen([*command, "--port", "0"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        url = re.search(r"at (http://\S+/) ", line)
        assert url, line
        body = report(sent[2], "READ")
        assert post(url[1], body, signed(url[1], body)).json() == {"stored": 1}
        assert KEY not in line
    finally:
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=10)
    assert proc.returncode == 0, rest
    assert "1 stored" in rest and KEY not in rest
    assert delivery(campaign)[R(3)][0] == "READ"


# ---- slow, idle and vanishing clients (raw sockets, loopback only) ---------------------------


def connect(server: ReceiverServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.receiver.port), timeout=30)
    sock.setblocking(False)
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closed `sock` (after whatever answer it sent)."""
    try:
        while chunk := sock.recv(65536):
            del chunk
    except BlockingIOError:
        return False
    except ConnectionError:
        pass
    return True


def head(server: ReceiverServer, body_length: int, headers: dict[str, str]) -> bytes:
    lines = ["POST / HTTP/1.1", f"Host: 127.0.0.1:{server.receiver.port}"]
    lines += [f"{k}: {v}" for k, v in {**headers, "Content-Length": str(body_length)}.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.fixture
def impatient(campaign: Campaign) -> Iterator[ReceiverServer]:
    """A receiver with short bounds on idle connections (1 s) and on bodies (1 s)."""
    settings = ReceiverSettings(KEY, idle_timeout=1.0, body_timeout=1.0)
    with ReceiverServer(journal_path(campaign, "simulator"), settings) as server:
        yield server


def test_a_thousand_idle_connections_are_closed_by_the_server(impatient: ReceiverServer) -> None:
    """Connections that send nothing, or half a request head, are closed after idle_timeout."""
    socks: list[socket.socket] = []
    try:
        for i in range(1000):
            socks.append(connect(impatient))
            if i % 2:
                socks[-1].send(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        with selectors.DefaultSelector() as selector:
            for sock in socks:
                selector.register(sock, selectors.EVENT_READ)
            open_ = len(socks)
            deadline = time.monotonic() + 60  # generous: a busy machine, 1 s asked for
            while open_ and time.monotonic() < deadline:
                for key, _ in selector.select(timeout=1):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if closed_by_server(sock):
                        selector.unregister(sock)
                        open_ -= 1
        assert open_ == 0, f"{open_} of 1000 idle connections still open"
    finally:
        for sock in socks:
            sock.close()


def test_a_body_dripped_a_byte_at_a_time_is_cut_off(impatient: ReceiverServer) -> None:
    """Headers, then a byte every 0.2 s of a 200-byte body: 408 and closed long before the end."""
    body = b" " * 200
    started = time.monotonic()
    with contextlib.closing(connect(impatient)) as sock:
        sock.setblocking(True)
        sock.sendall(head(impatient, len(body), signed(impatient.url, body)))
        answer = b""
        for byte in body:
            # Look for the answer before each byte, not after: a byte sent after the server
            # closed makes the kernel answer with a reset that discards the 408 unread.
            readable, _, _ = select.select([sock], [], [], 0.2)
            if readable:
                chunk = sock.recv(65536)
                answer += chunk
                if not chunk or answer.endswith(b"}"):
                    break
                continue
            sock.sendall(bytes([byte]))
        assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
    assert time.monotonic() - started < 30  # the whole drip would take 40 s
    assert impatient.receiver.counts == {"too_slow": 1}


def test_an_unsigned_request_is_refused_before_its_body_is_read(impatient: ReceiverServer) -> None:
    """No signature headers: 401 at once, without waiting for a body that never comes."""
    with contextlib.closing(connect(impatient)) as sock:
        sock.setblocking(True)
        sock.sendall(head(impatient, 1000, {"Content-Type": "application/json"}))
        assert sock.recv(65536).startswith(b"HTTP/1.1 401")
    assert impatient.receiver.counts == {"refused_missing": 1}


def test_a_reset_connection_logs_one_line_and_no_traceback(
    receiver: ReceiverServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that resets mid-body: one log line, no traceback (and the server carries on)."""
    monkeypatch.setattr(logging.getLogger("rcsbatch"), "propagate", True)  # a CLI test cut it
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="rcsbatch")
    body = report("1")
    sock = connect(receiver)
    sock.setblocking(True)
    sock.sendall(head(receiver, len(body), signed(receiver.url, body)) + body[:10])
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # with linger 0: a reset, not a goodbye
    wait_for(lambda: any(r.name.startswith("rcsbatch") for r in caplog.records))
    assert receiver.receiver.counts == {"cut_short": 1}
    mine = [r for r in caplog.records if r.name.startswith("rcsbatch")]
    assert all(r.levelno <= logging.INFO for r in mine)
    assert len({(r.getMessage(), r.created) for r in mine}) == 1  # seen once per handler
    assert not [r for r in caplog.records if r.exc_info or r.stack_info]
    assert "Traceback" not in caplog.text
    assert post(receiver.url, body, signed(receiver.url, body)).status_code == 200
