"""``modelyard alerts``: alert events of every source, acknowledgement, rules."""

from __future__ import annotations

from typing import Annotated

import typer

from modelyard.cli._remote import Column, Remote, remote

app = typer.Typer(help="Alerts: list, show, acknowledge; rules.", no_args_is_help=True)

COLUMNS: list[Column] = [
    ("id", lambda e: e.id),
    ("source", lambda e: e.source),
    ("severity", lambda e: e.severity),
    ("subject", lambda e: e.subject),
    ("message", lambda e: e.message),
    ("raised", lambda e: e.raised_at),
    ("resolved", lambda e: e.resolved_at),
    ("acked by", lambda e: e.acknowledged_by),
]
EventId = Annotated[int, typer.Argument(min=1, help="The alert event's id.")]


@remote(app, "list")
def list_alerts(
    remote: Remote,
    state: Annotated[str | None, typer.Option(help="open or resolved.")] = None,
    source: Annotated[str | None, typer.Option(help="system, deployment or drift.")] = None,
    severity: Annotated[str | None, typer.Option(help="info, warning or critical.")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
) -> None:
    """List alert events, newest first."""
    events = remote.client.alerts.list(
        state=state,  # type: ignore[arg-type]
        source=source,  # type: ignore[arg-type]
        severity=severity,  # type: ignore[arg-type]
        limit=limit,
    )
    remote.emit(events, COLUMNS)


@remote(app, "show")
def show(remote: Remote, event_id: EventId) -> None:
    """Show an alert event and its notification deliveries."""
    event = remote.client.alerts.get(event_id)
    remote.emit(event)
    if not remote.as_json:
        deliveries = remote.client.alerts.deliveries(event_id)
        if deliveries:
            remote.emit(
                deliveries,
                [
                    ("channel", lambda d: d.channel),
                    ("transition", lambda d: d.transition),
                    ("status", lambda d: d.status),
                    ("attempts", lambda d: d.attempts),
                    ("last error", lambda d: d.last_error),
                ],
            )


@remote(app, "ack")
def ack(remote: Remote, event_id: EventId) -> None:
    """Acknowledge an alert event (editors)."""
    event = remote.client.alerts.ack(event_id)
    remote.done(f"alert {event_id} acknowledged by {event.acknowledged_by}", event)


@remote(app, "rules")
def rules(remote: Remote) -> None:
    """List the alert rules."""
    remote.emit(
        remote.client.alerts.rules(),
        [
            ("id", lambda r: r.id),
            ("name", lambda r: r.name),
            ("condition", lambda r: f"{r.metric} {r.comparison} {r.threshold:g}"),
            ("for s", lambda r: r.for_seconds),
            ("severity", lambda r: r.severity),
            ("enabled", lambda r: r.enabled),
        ],
    )
