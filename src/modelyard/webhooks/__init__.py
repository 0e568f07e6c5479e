"""Webhooks, and the one delivery queue every outbound notification goes through.

``service`` holds subscriptions and :func:`~modelyard.webhooks.service.emit`, which every
domain calls inside the transaction of a change (model created, version created, alias moved,
evaluation finished, drift found, alert fired); ``delivery`` queues, sends, signs, retries and
records deliveries for webhooks and alert channels alike and runs the sender loop; ``signing``
is the ``X-Modelyard-Signature`` scheme (standard library only, for receivers too).
"""

from modelyard.webhooks.signing import sign, verify

__all__ = ["sign", "verify"]
