"""One-shot gateway actions outside a run: agents, capabilities, events, revoke, test sends.

- `agents`: The account's RCS agents, and the check of a campaign's `[message] from`
- `capabilities`: RCS capability lookups (`GET /lookup/rcs?number=A,B,…`), billed per number, cached
- `events`: RCS events (`POST /rcs/events`): READ and IS_TYPING to a number or an inbound message
- `revoke`: Revoking: ask the gateway to delete a campaign's messages that have not arrived yet
- `testsends`: Test sends: a few rows of a campaign, merged exactly as the campaign would

Nothing is imported here: import the module you need, so each stays cheap.
"""
