"""Alerts: rules on the server's own CPU, memory, disk, request latency and job queue and on
the deployments' prediction error; one event list shared with the deployments' own alerts
and drift checks; notification channels.

``service`` holds rules, channels and events (``raise_event``/``resolve_event`` are how any
domain opens and closes an event); ``evaluator`` is the loop the server runs; ``_leases``
elects which process evaluates the host and fleet rules; ``_readings`` measures; channels'
notifications go through the one delivery queue of ``modelyard.webhooks``.
"""
