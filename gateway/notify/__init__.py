"""Alerts reach people: the escalation ladder, its durable state, messages and channels.

* :mod:`gateway.notify.policy` — which alerts are urgent, who is asked, what counts as an
  acknowledgement (pure).
* :mod:`gateway.notify.messages` — the short Chinese texts, from the config's templates (pure).
* :mod:`gateway.notify.store` — every alert's notification state in SQLite (``notify.db``): each
  change and the messages and uplink events it causes are one transaction.
* :mod:`gateway.notify.engine` — the ladder: rounds, acknowledgements, reminders, the digest, and
  the one sender task that hands messages to a channel, most urgent first.
* :mod:`gateway.notify.channel` — the channel interface and the 4G modem channel.

See docs/alerts.md.
"""
