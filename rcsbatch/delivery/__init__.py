"""After a message is accepted: delivery states, webhooks, the receiver, the logbook sync.

- `receiver`: The webhook receiver: seven's delivery reports, checked and stored in the journal
- `states`: Delivery states: seven's names for what happened to a message after it was accepted
- `sync`: Sync: fill in delivery states and final prices from the gateway's logbook
- `webhook`: seven's webhooks without HTTP: checking a request's signature, reading its reports

Nothing is imported here: import the module you need, so each stays cheap.
"""
