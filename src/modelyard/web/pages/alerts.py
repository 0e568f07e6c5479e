"""The alerts page: open and resolved alert events (system rules and deployments in one
list) with an acknowledge button, and the rules that raise them.

Acknowledging posts a form; with htmx the acknowledged row is swapped in place, without
JavaScript the browser is sent back to the list.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import RedirectResponse, Response

from modelyard.alerts import service as alerts_service
from modelyard.kit.deps import DbSession
from modelyard.web._pager import pager
from modelyard.web._render import NAV, SECURITY_HEADERS, is_htmx, render
from modelyard.web._session import FormEditor, PageUser

router = APIRouter()
NAV.append(("Alerts", "/alerts"))

PAGE_SIZE = 50
STATES = {"open": "open", "resolved": "resolved", "all": "open and resolved"}
SOURCES = {"": "any source", "system": "system", "deployment": "deployments"}
SEVERITIES = {"": "any severity", "critical": "critical", "warning": "warning", "info": "info"}
EventId = Annotated[int, Path(ge=1, le=2**62)]


@router.get("/alerts")
def alert_list(
    request: Request,
    user: PageUser,
    session: DbSession,
    state: Annotated[str, Query(max_length=16)] = "open",
    source: Annotated[str, Query(max_length=16)] = "",
    severity: Annotated[str, Query(max_length=16)] = "",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    back: Annotated[str, Query(max_length=25_000)] = "",
) -> Response:
    """List alert events, newest first, and the alert rules."""
    state = state if state in STATES else "open"
    source = source if source in SOURCES else ""
    severity = severity if severity in SEVERITIES else ""
    page = alerts_service.list_events(
        session,
        state=None if state == "all" else state,
        source=source or None,
        severity=severity or None,
        cursor=cursor or None,
        limit=PAGE_SIZE,
    )
    filters = {
        k: v for k, v in {"state": state, "source": source, "severity": severity}.items() if v
    }
    context = {
        "events": page["items"],
        "rules": alerts_service.list_rules(session),
        "state": state,
        "source": source,
        "severity": severity,
        "states": STATES,
        "sources": SOURCES,
        "severities": SEVERITIES,
        **pager(
            "/alerts", filters, cursor=cursor or None, back=back, next_cursor=page["next_cursor"]
        ),
    }
    return render(request, "alerts/list.html", context, user=user)


@router.post("/alerts/{event_id:int}/ack")
def ack(request: Request, event_id: EventId, user: FormEditor, session: DbSession) -> Response:
    """Acknowledge an alert event."""
    event = alerts_service.ack_event(session, event_id, user.name)
    if not is_htmx(request):
        return RedirectResponse("/alerts", status_code=303, headers=SECURITY_HEADERS)
    return render(request, "alerts/_row.html", {"event": event}, user=user)
