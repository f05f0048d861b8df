"""The engine: the event loop, a campaign run, the sender, settling, the budget.

- `budget`: The budget: `[send] max_cost` caps what a campaign may cost, all its runs together
- `loop`: Running the async core from plain code, with or without an event loop already running
- `runner`: One campaign run, from the campaign file to the report folder
- `sender`: The sender: the workers that send a campaign's rows through one gateway client
- `settle`: Settling lost answers through the gateway's logbook

Nothing is imported here: import the module you need, so each stays cheap.
"""
