"""Shared fixtures (a gateway simulator, campaign files in tmp_path) and hypothesis profiles."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

import rcsbatch
from rcsbatch.campaign.file import Campaign, load_campaign
from rcsbatch.delivery.sync import SyncStats
from rcsbatch.gateway.config import Gateway
from rcsbatch.simulator import SimulatorServer

API_KEY = "test-key"

# "ci" (the default): a bounded number of examples and no deadline, so a noisy machine neither
# slows the suite nor fails a test for one slow example. "dev": more examples, for hunting.
settings.register_profile(
    "ci",
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("dev", max_examples=300, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test keeps campaign state (journals, locks, simulator state) in its own folder,
    never in the user's ~/.local/state; subprocesses inherit it through the environment."""
    folder = tmp_path / "state"
    monkeypatch.setenv("RCSBATCH_STATE_DIR", str(folder))
    return folder


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    """A fresh simulator on a free loopback port, every fault off; change knobs with set_faults."""
    with SimulatorServer() as server:
        yield server


@pytest.fixture
def gateway(sim: SimulatorServer) -> Gateway:
    """The simulator as the gateway a run sends to."""
    return Gateway(sim.base_url, API_KEY, simulated=True)


def sync_now(campaign: Campaign, gateway: Gateway) -> tuple[SyncStats, Path | None]:
    """`rcsbatch.sync_campaign` into the campaign's own report folder, held to succeed: a
    refusal or a logbook that cannot be read fails the test instead of coming back in the
    result. Returns what changed and the run folder it rewrote."""
    result = rcsbatch.sync_campaign(campaign, gateway=gateway)
    assert result.exit_code == 0, result.stop_reason or result.error
    return result.stats, result.folder


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    raise TypeError(f"no TOML form for {value!r}")


def _table(name: str, values: Mapping[str, Any]) -> list[str]:
    lines = [f"[{name}]"] if name else []
    lines += [f"{k} = {_toml(v)}" for k, v in values.items() if not isinstance(v, Mapping)]
    for k, v in values.items():
        if isinstance(v, Mapping):
            lines += ["", *_table(f"{name}.{k}" if name else k, v)]
    return lines


class CampaignFactory:
    """Writes `<name>.toml` and `<name>.csv` into a folder and loads the campaign.

    Row i (1-based) of the generated file has phone `+49176100000ii`, first_name `Name<i>` and
    customer_id `c<i>`; `recipient(i)` is its normalised form as the gateway records it.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @staticmethod
    def recipient(i: int) -> str:
        return f"49176{10_000_000 + i}"

    def __call__(
        self,
        rows: int | list[dict[str, str]] = 5,
        *,
        name: str = "test",
        message: Mapping[str, Any] | None = None,
        send: Mapping[str, Any] | None = None,
        **top: Any,
    ) -> Campaign:
        if isinstance(rows, int):
            rows = [
                {"phone": "+" + self.recipient(i), "first_name": f"Name{i}", "customer_id": f"c{i}"}
                for i in range(1, rows + 1)
            ]
        data = self.folder / f"{name}.csv"
        columns = list(dict.fromkeys(k for r in rows for k in r)) or ["phone"]
        with data.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, columns)
            writer.writeheader()
            writer.writerows(rows)
        msg = {"text": "Hi {first_name}", "foreign_id": "{customer_id}", **(message or {})}
        msg = {k: v for k, v in msg.items() if v is not None}  # None: leave the key out
        settings = {"name": name, "recipients": data.name, "report_dir": "reports", **top}
        lines = [*_table("", settings), "", *_table("message", msg)]
        # Lost answers are settled after short waits here, not seven's safe minutes: requests
        # time out after 2 s, absence may be judged 0.2 s after that, with evidence sent 0.2 s
        # later, and a run waits at most 3 s for that evidence at its end.
        send = {
            "settle_seconds": 3,
            "request_timeout": 2,
            "settle_floor": 0.2,
            "evidence_margin": 0.2,
            **(send or {}),
        }
        lines += ["", *_table("send", send)]
        path = self.folder / f"{name}.toml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return load_campaign(path)


@pytest.fixture
def make_campaign(tmp_path: Path) -> CampaignFactory:
    """Call it to write a campaign (TOML + CSV) into tmp_path and get it loaded."""
    return CampaignFactory(tmp_path)
