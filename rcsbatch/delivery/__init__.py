"""After a message is accepted: delivery states, webhooks, the receiver, the logbook sync.

- `receiver`: The webhook receiver: seven posts delivery reports
- `states`: Delivery states: seven's names for what happened to a message after it was accepted
- `sync`: Sync: fill in delivery states and final prices from the gateway's logbook
- `webhook`: seven's webhooks, without HTTP

Nothing is imported here: import the module you need, so each stays cheap.
"""
