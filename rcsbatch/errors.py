"""Every error rcsbatch raises on purpose, as one tree.

    RcsbatchError
    ├── InputError                 bad campaign or recipient input; nothing is sent (exit 2)
    │   ├── CampaignError          the campaign file: missing, unreadable, wrong key or value
    │   ├── RecipientsError        the recipient or suppress file: unreadable, missing column, …
    │   ├── ReportError            the report folder or the campaign's journal cannot be used
    │   ├── BudgetError            the estimate passes `max_cost` or the balance: nothing is sent
    │   ├── HistoryLostError       the campaign ran, but its journal is missing, empty or older
    │   └── AlreadySentError       the logbook holds this campaign's messages, the journal none
    ├── CampaignBusyError          another run of the same campaign is going on (exit 4)
    ├── StorageError               a full disk, a damaged journal (exit 2; 1 once sending began)
    ├── GatewayError               something the gateway said or did not say
    │   ├── RetriableError         surely not accepted; safe to send again (429, 503, connect error)
    │   ├── RecipientRefusedError  refused for this recipient only: the row is ``failed``
    │   ├── AnswerLostError        the request may have been accepted; the row is ``unknown``
    │   └── AccountError           the whole run must stop: key, credit, rights, sender (exit 3)
    └── WebhookError               a webhook request the receiver refuses
        ├── SignatureError         signature missing, wrong, or its timestamp stale (HTTP 401)
        └── ReportFormatError      signed, but not a body we can read (HTTP 400)

Anything else that escapes is a bug.
"""

from __future__ import annotations


class RcsbatchError(Exception):
    """Base of every error rcsbatch raises on purpose."""


class InputError(RcsbatchError):
    """The input cannot be trusted, so nothing is sent; the message says how to fix it.

    ``option`` names the run parameter that would also fix it (``limit``, ``report_dir``), for a
    front end to add its own spelling of it: the CLI appends its flag; the message never does.
    """

    def __init__(self, message: str = "", *, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


class CampaignError(InputError):
    """The campaign file is missing, unreadable, or holds a wrong key or value."""


class RecipientsError(InputError):
    """The recipient or suppress file cannot be read or lacks what the campaign needs."""


class GatewayError(RcsbatchError):
    """The gateway refused a request, or its answer was lost or unreadable."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.trace_id: str | None = None  # the gateway's X-sms77-trace-id, for support requests


class RetriableError(GatewayError):
    """The request surely did not reach the gateway's queue; it may be sent again."""

    def __init__(
        self, message: str, *, code: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class RecipientRefusedError(GatewayError):
    """The gateway refused this one recipient; the others are unaffected."""


class AccountError(GatewayError):
    """The gateway refused the account (key, credit, rights, sender): the run must stop."""


class AnswerLostError(GatewayError):
    """The request may have been accepted, but no readable answer came: never resend blindly."""


class ReportError(InputError):
    """The report folder cannot be written, or the campaign's journal is not a journal."""


class BudgetError(InputError):
    """The run would pass `[send] max_cost` or the account's balance; nothing is sent."""


class HistoryLostError(InputError):
    """The campaign ran before, but its journal is missing, empty or lacks a run: sending from
    it could message people twice, so nothing is sent."""


class AlreadySentError(InputError):
    """A journal without history, yet the gateway's logbook holds this campaign's messages
    (another machine, another report folder of an older rcsbatch, another person's cron)."""


class CampaignBusyError(RcsbatchError):
    """Another run of the same campaign holds its lock; this one sends nothing."""


class StorageError(RcsbatchError):
    """The disk under a file rcsbatch keeps is full or refused a write, or a database is
    damaged; the message names it and says what to do.

    ``sending_started`` tells whether messages may have gone before it: the journal holds them
    either way, so running again after the cause is fixed sends nothing twice.
    """

    def __init__(self, message: str, *, sending_started: bool = False) -> None:
        super().__init__(message)
        self.sending_started = sending_started


class WebhookError(RcsbatchError):
    """A webhook request the receiver refuses; the message says why (never the key)."""


class SignatureError(WebhookError):
    """The request's signature is missing, wrong, or its timestamp too old or too far ahead.

    ``kind`` is ``"missing"``, ``"bad"`` or ``"stale"``.
    """

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


class ReportFormatError(WebhookError):
    """A signed webhook whose body is not a report rcsbatch can read."""
