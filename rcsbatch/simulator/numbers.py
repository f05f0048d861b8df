"""Phone numbers as the simulated gateway sees them: normalising, countries, carriers, capabilities.

Everything here is deterministic in the number, so a campaign meets the same "network" on every
run: the lookup's RCS capabilities depend on the last digit, the carrier on the one before it.
"""

from __future__ import annotations

from dataclasses import dataclass

#: National numbers (one leading ``0``) are read in this country, as a German gateway would
#: (seven's behaviour for RCS is undocumented; its SMS API reads them in the account's country).
DEFAULT_COUNTRY_CODE = "49"

ALL_CAPABILITIES = (
    "REVOCATION",
    "RICHCARD_STANDALONE",
    "RICHCARD_CAROUSEL",
    "ACTION_CREATE_CALENDAR_EVENT",
    "ACTION_DIAL",
    "ACTION_OPEN_URL",
    "ACTION_SHARE_LOCATION",
    "ACTION_VIEW_LOCATION",
)
_NO_REVOCATION = tuple(c for c in ALL_CAPABILITIES if c != "REVOCATION")


@dataclass(frozen=True, slots=True)
class Country:
    """A country the simulator knows: calling code, ISO code, name, mobile country code."""

    code: str
    iso: str
    name: str
    mcc: str
    trunk: str = "0"


_COUNTRIES = {
    c.code: c
    for c in (
        Country("49", "DE", "Germany", "262"),
        Country("43", "AT", "Austria", "232"),
        Country("41", "CH", "Switzerland", "228"),
        Country("44", "GB", "United Kingdom", "234"),
        Country("33", "FR", "France", "208"),
        Country("31", "NL", "Netherlands", "204"),
        Country("32", "BE", "Belgium", "206"),
        Country("39", "IT", "Italy", "222", trunk=""),
        Country("34", "ES", "Spain", "214", trunk=""),
        Country("48", "PL", "Poland", "260", trunk=""),
        Country("45", "DK", "Denmark", "238", trunk=""),
        Country("1", "US", "United States", "310", trunk=""),
    )
}

_DE_CARRIERS = (
    ("Telekom Deutschland GmbH", "26201"),
    ("Vodafone GmbH", "26202"),
    ("Telefonica Germany GmbH & Co. oHG (O2)", "26203"),
)


def normalize(raw: object) -> str | None:
    """The recipient as digits with country code (``49176...``), or None when it is no number.

    Accepts ``49176...``, ``+49176...``, ``0049176...`` and national ``0176...``; after that the
    number must be 8 to 15 digits (E.164's maximum) not starting with 0.
    """
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        return None
    s = str(raw).strip().replace(" ", "")
    if s.startswith("+"):
        s = s[1:]
    elif s.startswith("00"):
        s = s[2:]
    elif s.startswith("0"):
        s = DEFAULT_COUNTRY_CODE + s[1:]
    if not s.isdigit() or not s.isascii() or not 8 <= len(s) <= 15 or s[0] == "0":
        return None
    return s


def country_of(digits: str) -> Country | None:
    """The country whose calling code starts the number, if the simulator knows it."""
    for n in (3, 2, 1):
        c = _COUNTRIES.get(digits[:n])
        if c is not None:
            return c
    return None


def carrier_of(digits: str) -> tuple[str, str]:
    """The number's carrier name and MCCMNC, fixed by its second-to-last digit."""
    c = country_of(digits)
    if c is None:
        return ("Unknown", "")
    if c.iso == "DE":
        return _DE_CARRIERS[int(digits[-2]) % 3]
    return (f"{c.name} Mobile", c.mcc + "01")


def capabilities(digits: str) -> tuple[str, ...]:
    """RCS capabilities by the last digit: 0 none (no RCS), 1 all but REVOCATION, else all."""
    last = digits[-1]
    if last == "0":
        return ()
    if last == "1":
        return _NO_REVOCATION
    return ALL_CAPABILITIES


def formats(raw: str) -> dict[str, object]:
    """One lookup row: number formats, carrier and ``rcs_capabilities`` (success false if bad)."""
    digits = normalize(raw)
    if digits is None:
        return {
            "success": False,
            "code": "202",
            "number": raw,
            "international": None,
            "international_formatted": None,
            "national": None,
            "country_code": None,
            "country_iso": None,
            "country_name": None,
            "carrier": None,
            "network_type": None,
            "rcs_capabilities": [],
        }
    c = country_of(digits)
    rest = digits[len(c.code) :] if c else digits
    carrier, _ = carrier_of(digits)
    return {
        "success": True,
        "code": "100",
        "number": raw,
        "international": "+" + digits,
        "international_formatted": f"+{c.code} {rest}" if c else "+" + digits,
        "national": (c.trunk + rest) if c else digits,
        "country_code": c.code if c else None,
        "country_iso": c.iso if c else None,
        "country_name": c.name if c else None,
        "carrier": carrier,
        "network_type": "mobile",
        "rcs_capabilities": list(capabilities(digits)),
    }
