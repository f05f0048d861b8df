"""The report: counts each row's final status and cost, and decides the exit code.

Exit codes and their meanings are exitcodes.ExitCode's; `Report.exit_code` states the rule that
picks a run's.
"""

from __future__ import annotations

import signal
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rcsbatch.engine.settle import LogbookFacts
from rcsbatch.exitcodes import ExitCode
from rcsbatch.reports.money import cents_even, plain
from rcsbatch.state.status import RowStatus

EXIT_OK = ExitCode.OK
EXIT_ROWS = ExitCode.ROWS
EXIT_INPUT = ExitCode.INPUT
EXIT_GATEWAY = ExitCode.GATEWAY
EXIT_BUSY = ExitCode.BUSY

# What the report calls the journal's own working states.
REPORT_STATUS: dict[RowStatus, RowStatus] = {"pending": "not_sent", "in_flight": "unknown"}
PROBLEMS: tuple[RowStatus, ...] = ("failed", "unknown", "expired", "not_sent")
# Rows whose message the gateway accepted (and charged), revoked since or not.
CHARGED: tuple[RowStatus, ...] = ("sent", "revoke_requested", "revoked")
ORDER: tuple[RowStatus, ...] = (
    "sent",
    "revoke_requested",
    "revoked",
    "ready",
    "failed",
    "unknown",
    "expired",
    "not_sent",
    "invalid",
    "duplicate",
    "suppressed",
    "incapable",
)

RESUME = (
    "to resume, run the same command again: rows already sent are never sent twice, and "
    "lost answers are settled first"
)


@dataclass
class Report:
    """The outcome of one run (or dry run) over every row of a campaign."""

    dry_run: bool = False
    counts: Counter[str] = field(default_factory=Counter)
    cost: Decimal = Decimal(0)
    price_unknown: int = 0
    currency: str = "EUR"
    balance_before: Decimal | None = None
    balance_after: Decimal | None = None
    stop_reason: str | None = None
    stop_code: str | None = None
    interrupted: int | None = None
    estimate: Decimal | None = None
    estimate_source: str | None = None
    simulated: bool = False
    run_id: str | None = None
    run_sent: int = 0  # rows this run itself got accepted (the counts cover every run)
    run_cost: Decimal = Decimal(0)
    text_changed: int = 0  # settled rows whose text in the file now differs (not re-sent)
    gave_up: str | None = None  # the gateway kept failing: the run stopped, resumable
    over_budget: bool = False  # max_cost was reached: the rest is not_sent
    not_after_passed: bool = False
    settled_found: int = 0  # lost answers the logbook showed accepted
    settled_resent: int = 0  # lost answers the logbook did not show: sent again
    # Sent rows and their known cost by channel (rcs, fallback); see results.SCHEMA `channel`.
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    capability_note: str | None = None  # what [send] require decided from the lookups
    # What settling measured about the gateway's logbook (zone, clock, lag, ...).
    logbook: LogbookFacts = field(default_factory=LogbookFacts)
    resent_blindly: int = 0  # on_unknown = "resend": lost answers sent again without evidence
    # Ready rows of the file with a warning, by kind (prepare.warning_counts): a number type
    # that may not receive RCS, bare digits that read two ways, a type lifted by a lookup.
    warnings: Counter[str] = field(default_factory=Counter)

    def add_channel(self, channel: str, sent: int, cost: Decimal) -> None:
        """Count sent rows (and their known cost) by how they went: rcs or fallback."""
        counts = self.channels.setdefault(channel, {"sent": 0, "cost": Decimal(0)})
        counts["sent"] += sent
        counts["cost"] += cost

    def add(
        self,
        counts: dict[str, int],
        cost: Decimal,
        price_unknown: int,
        run_sent: int = 0,
        run_cost: Decimal = Decimal(0),
    ) -> None:
        """Count a batch of rows: statuses, the sum of known prices, rows sent without a price,
        and how many of the sent rows (and what cost) this run itself settled."""
        self.counts.update(counts)
        self.cost += cost
        self.price_unknown += price_unknown
        self.run_sent += run_sent
        self.run_cost += run_cost

    @property
    def rows(self) -> int:
        return sum(self.counts.values())

    @property
    def cost_complete(self) -> bool:
        """True when every sent row's price is known and no row is unknown (a lost answer may
        have been charged)."""
        return self.price_unknown == 0 and not self.counts.get("unknown")

    @property
    def exit_code(self) -> int:
        """The run's exit code (exitcodes.ExitCode), the highest that applies: 128 + the signal
        that interrupted it; GATEWAY when the gateway stopped it; ROWS when a row is failed,
        unknown, expired or not_sent (for a dry run: invalid); else OK."""
        if self.interrupted is not None:
            return 128 + self.interrupted
        if self.stop_reason is not None:
            return EXIT_GATEWAY
        bad = ("invalid",) if self.dry_run else PROBLEMS
        if any(self.counts.get(status) for status in bad):
            return EXIT_ROWS
        return EXIT_OK

    def summary(self) -> dict[str, Any]:
        """The JSON-ready summary: counts per status, money as decimal strings."""
        return {
            "rows": self.rows,
            "counts": {s: self.counts[s] for s in _ordered(self.counts)},
            "total_cost": plain(self.cost),
            "this_run": {"sent": self.run_sent, "cost": plain(self.run_cost)},
            "cost_complete": self.cost_complete,
            "sent_without_price": self.price_unknown,
            "text_changed": self.text_changed,
            "currency": self.currency,
            "simulated": self.simulated,
            "balance_before": None if self.balance_before is None else plain(self.balance_before),
            "balance_after": None if self.balance_after is None else plain(self.balance_after),
            "estimated_cost": None if self.estimate is None else plain(self.estimate),
            "estimate_source": self.estimate_source,
            "stopped_by_gateway": self.stop_reason,
            "stop_code": self.stop_code,
            "gave_up": self.gave_up,
            "not_after_passed": self.not_after_passed,
            "stopped_by_budget": self.over_budget,
            "settled_from_logbook": {
                "found": self.settled_found,
                "resent": self.settled_resent,
                "resent_without_proof": self.resent_blindly,
            },
            "logbook": self.logbook.summary(),
            "interrupted_by": None
            if self.interrupted is None
            else signal.Signals(self.interrupted).name,
            "exit_code": self.exit_code,
            "channels": {
                name: {"sent": c["sent"], "cost": plain(c["cost"])}
                for name, c in sorted(self.channels.items())
            },
            "capabilities": self.capability_note,
            "warnings": dict(sorted(self.warnings.items())),
        }

    def lines(self) -> list[str]:
        """A short human summary, one fact per line."""
        parts = ", ".join(f"{self.counts[s]} {s}" for s in _ordered(self.counts)) or "no rows"
        out = [f"{self.rows} rows: {parts}"]
        sim = " (simulated)" if self.simulated else ""
        if not self.dry_run:
            cost = f"cost {plain(self.cost)} {self.currency}{sim}"
            if self.price_unknown:
                cost += (
                    f", incomplete: {self.price_unknown} sent rows have no price yet "
                    "(seven settles some RCS prices later)"
                )
            out.append(cost)
            if self.run_sent != self.counts.get("sent", 0):
                out.append(
                    f"this run: {self.run_sent} sent, cost "
                    f"{plain(self.run_cost)} {self.currency}{sim}; "
                    "the rest was settled by earlier runs"
                )
            if self.balance_before is not None:
                out.append(f"balance before: {plain(self.balance_before)} {self.currency}{sim}")
            if self.balance_after is not None:
                out.append(f"balance after: {plain(self.balance_after)} {self.currency}{sim}")
        if self.dry_run and self.balance_before is not None:
            out.append(f"balance: {plain(self.balance_before)} {self.currency}")
        if self.estimate is not None:
            out.append(
                f"estimated cost: {cents_even(self.estimate)} {self.currency} "
                f"({self.estimate_source})"
            )
        if "fallback" in self.channels:
            out.append(
                "by channel: "
                + ", ".join(
                    f"{name} {c['sent']} sent, cost {plain(c['cost'])} {self.currency}{sim}"
                    for name, c in sorted(self.channels.items())
                )
            )
        if self.capability_note:
            out.append(self.capability_note)
        out += warning_lines(self.warnings)
        if self.text_changed:
            out.append(
                f"{self.text_changed} recipients were already messaged and their text in the file "
                "now differs: not sent again (to message people again, use a new campaign name)"
            )
        if self.settled_found or self.settled_resent:
            out.append(
                f"settled from the gateway's logbook: {self.settled_found} lost answers had "
                f"been accepted, {self.settled_resent} had not and were sent again"
            )
        if self.counts.get("unknown") and not self.dry_run:
            out.append(
                f"{self.counts['unknown']} rows are unknown (maybe accepted, maybe not; each "
                "row's error_text says why): the next run looks them up in the gateway's logbook "
                "again and sends none of them without proof that it did not go"
            )
        if self.logbook.absence_contradicted:
            out.append(
                f"sent twice: {self.logbook.absence_contradicted} lost answers judged absent "
                "from the logbook had gone after all (a resend was refused as a repeat, 402); "
                "see docs/sending-and-resuming.md, 'Lost answers: how settling decides'"
            )
        if self.stop_reason:
            out.append(f"stopped by the gateway: {self.stop_reason}")
        if self.gave_up:
            out.append(f"stopped: {self.gave_up}")
        if self.over_budget:
            out.append("stopped: [send] max_cost reached; the rest stays not_sent")
        if self.not_after_passed:
            out.append("stopped: the campaign's not_after has passed; the rest stays not_sent")
        if self.resumable:
            out.append(RESUME)
        return out

    @property
    def resumable(self) -> bool:
        """True when the run ended early and the same command would go on where it stopped."""
        if self.dry_run or self.not_after_passed:
            return False
        return bool(self.interrupted is not None or self.stop_reason or self.gave_up)


def _ordered(counts: Counter[str]) -> list[str]:
    known = [s for s in ORDER if counts.get(s)]
    return known + sorted(s for s in counts if s not in ORDER and counts[s])


def warning_lines(counts: Counter[str]) -> list[str]:
    """The summary line of counted warnings, by kind (none when there are none): a number type
    that may not receive RCS (voip, ...), `two_readings` or `lookup` (see docs/campaign-file.md)."""
    total = sum(counts.values())
    if not total:
        return []
    parts = ", ".join(
        f"{n} {kind}" for kind, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    )
    rows = "1 ready row has" if total == 1 else f"{total} ready rows have"
    return [f"warning: {rows} a number to look at ({parts}); `rcsbatch validate` lists them"]
