"""Alerts: rules on the server's own CPU, memory, disk, request latency and job queue; one
event list shared with the deployments' prediction alerts; notification channels.

``service`` holds rules, channels and events (``raise_event``/``resolve_event`` are how any
domain opens and closes an event); ``evaluator`` is the loop the server runs; ``_readings``
measures; ``_notify`` sends.
"""
