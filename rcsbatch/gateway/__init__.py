"""Talking to seven's gateway: where it is, the client, its transport, answers, retries.

- `answers`: Read the gateway's answers to a send: every shape `seven-gateway.md` describes
- `client`: The gateway client: one httpx client per command, speaking seven's HTTP API
- `config`: Where to send: the gateway's base URL and API key, from the caller or the environment
- `fanout`: The bounded fan-out of one-shot actions
- `logbook`: Reading seven's logbook (`GET /journal/outbound`): pages, zone, entries' times, content
- `pace`: The pace of a run: one rate limit for every worker, slowed by the gateway's 429s
- `request`: What one send request carries: the gateway parameters for one row at one moment
- `retry`: The retry policy: when a gateway call is tried again, and how long it waits first
- `transport`: An httpx transport over aiohttp

Nothing is imported here: import the module you need, so each stays cheap.
"""
