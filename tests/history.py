"""A campaign with a history, made by real runs against the loopback simulator, for the report
tests: a lost answer settled from the logbook, a refused recipient, a credit stop, a top-up, a
price change, answers without a price, three runs, and delivery reports as webhooks bring them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from conftest import CampaignFactory

import rcsbatch
from rcsbatch.campaign.file import Campaign
from rcsbatch.engine.runner import RunResult
from rcsbatch.gateway.config import Gateway
from rcsbatch.simulator import Message, SimulatorServer
from rcsbatch.state.journal import Journal
from rcsbatch.state.paths import journal_path

PHONES = {
    # recipient digits: (phone as written, segment)
    "4917610000001": ("+49 176 10000001", "vip"),
    "4917610000002": ("0176 10000002", "regular"),
    "4917610000003": ("+4917610000003", "regular"),
    "4917610000004": ("+4917610000004", "vip"),
    "447400123456": ("+44 7400 123456", "regular"),
    "447400123457": ("+44 7400 123457", "vip"),
    "12015550123": ("+1 201 555 0123", "regular"),
    "14165550123": ("+1 416 555 0123", "regular"),
    "33612345678": ("+33 6 12 34 56 78", "vip"),
    "436641234567": ("+43 664 1234567", "regular"),
}
COUNTRY = {
    "4917610000001": "DE",
    "4917610000002": "DE",
    "4917610000003": "DE",
    "4917610000004": "DE",
    "447400123456": "GB",
    "447400123457": "GB",
    "12015550123": "US",
    "14165550123": "CA",
    "33612345678": "FR",
    "436641234567": "AT",
}
REFUSED = "33612345678"  # 202: invalid recipient, failed
NOT_DELIVERED = "447400123456"
EXPIRED = "12015550123"
READ = "4917610000004"
NO_REPORT = "4917610000003"  # its delivery report never came: pending
SECOND_PRICE = Decimal("0.0612")


@dataclass
class History:
    campaign: Campaign
    sim: SimulatorServer
    results: list[RunResult]
    late_priced: str  # the recipient whose price a later logbook read filled in

    @property
    def journal(self) -> Journal:
        return Journal(journal_path(self.campaign, "simulator"))

    def accepted(self) -> dict[str, list[Message]]:
        found: dict[str, list[Message]] = defaultdict(list)
        for m in self.sim.backend.accepted():
            found[m.to].append(m)
        return found


def make_history(make_campaign: CampaignFactory, sim: SimulatorServer, gateway: Gateway) -> History:
    """Three runs of one campaign (see the module docstring); delivery reports recorded after."""
    rows = [
        {"phone": phone, "first_name": f"N{i}", "customer_id": f"c{i}", "segment": segment}
        for i, (phone, segment) in enumerate(PHONES.values(), 1)
    ]
    rows.insert(3, {"phone": "12", "first_name": "X", "customer_id": "bad", "segment": "vip"})
    again = {"phone": "0176 10000001", "first_name": "Again", "customer_id": "d", "segment": "vip"}
    rows.append(again)
    campaign = make_campaign(
        rows,
        name="history",
        message={"label": "{segment}"},
        send={"concurrency": 1, "max_attempts": 3},
    )
    delivery_for = {NOT_DELIVERED: "NOTDELIVERED", EXPIRED: "EXPIRED", READ: "READ"}
    # Run 1: the first answer is lost (settled from the logbook), a 503 is retried, one
    # recipient is refused, and the credit runs out after 6 messages.
    sim.set_faults(
        script=["drop", "ok", "503"],
        retry_after=0,
        credit_after=6,
        refuse={REFUSED: 202},
        delivery_for=delivery_for,
    )
    results = [rcsbatch.run(campaign, gateway=gateway)]
    # A top-up; the price changes and answers carry no price (seven settles it later).
    sim.topup("10")
    sim.set_faults(price=SECOND_PRICE, price_in_answer=False)
    results.append(rcsbatch.run(campaign, gateway=gateway, limit=1))
    results.append(rcsbatch.run(campaign, gateway=gateway))
    history = History(campaign, sim, results, late_priced="")
    with history.journal as journal:
        # Webhooks: every message's report but one; one late price read from the logbook.
        # They come in over the next minutes, a message's report 40 s after the one before.
        for i, m in enumerate(sim.backend.accepted()):
            if m.to != NO_REPORT:
                at = m.accepted_at + 40 * (i + 1)
                assert journal.record_delivery(m.id, m.dlr, at) == "stored"
        unpriced = [m for m in sim.backend.accepted() if m.price == SECOND_PRICE]
        history.late_priced = unpriced[0].to
        assert journal.set_final_price(unpriced[0].id, unpriced[0].price)
    return history
