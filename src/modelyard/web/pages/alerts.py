"""The alerts page: open and resolved alert events (system rules and deployments in one
list) with an acknowledge button, and the rules that raise them.

Acknowledging posts a form; with htmx the acknowledged row is swapped in place, without
JavaScript the browser is sent back to the list. Administrators also get the rules editor:
a form that creates a rule (shown again with its errors, 422, when it does not validate)
and buttons that enable, disable or delete one; each is a CSRF-checked form that goes
through ``alerts.service`` like the API and sends the browser back to the page.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from modelyard.alerts import service as alerts_service
from modelyard.alerts.schemas import METRIC_SCOPES, Metric, RuleCreate, RuleUpdate, Severity
from modelyard.auth.schemas import Principal
from modelyard.kit.deps import DbSession
from modelyard.kit.errors import ProblemError
from modelyard.web._pager import pager
from modelyard.web._render import NAV, SECURITY_HEADERS, is_htmx, render
from modelyard.web._session import FormAdmin, FormEditor, PageUser

router = APIRouter()
NAV.append(("Alerts", "/alerts"))

PAGE_SIZE = 50
STATES = {"open": "open", "resolved": "resolved", "all": "open and resolved"}
SOURCES = {
    "": "any source",
    "system": "system",
    "deployment": "deployments",
    "drift": "drift checks",
}
SEVERITIES = {"": "any severity", "critical": "critical", "warning": "warning", "info": "info"}
EventId = Annotated[int, Path(ge=1, le=2**62)]
RuleId = Annotated[int, Path(ge=1, le=2**62)]
RULE_FIELDS = frozenset(RuleCreate.model_fields)
NEW_RULE = {
    "name": "",
    "metric": "",
    "scope": "",
    "comparison": ">",
    "threshold": "",
    "for_seconds": "0",
    "window_seconds": "300",
    "severity": "warning",
    "description": "",
}


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
        "events": page.items,
        **_rules_context(session),
        "state": state,
        "source": source,
        "severity": severity,
        "states": STATES,
        "sources": SOURCES,
        "severities": SEVERITIES,
        **pager("/alerts", filters, cursor=cursor or None, back=back, next_cursor=page.next_cursor),
    }
    return render(request, "alerts/list.html", context, user=user)


@router.post("/alerts/{event_id:int}/ack")
def ack(request: Request, event_id: EventId, user: FormEditor, session: DbSession) -> Response:
    """Acknowledge an alert event."""
    event = alerts_service.ack_event(session, event_id, user.name)
    if not is_htmx(request):
        return RedirectResponse("/alerts", status_code=303, headers=SECURITY_HEADERS)
    return render(request, "alerts/_row.html", {"event": event}, user=user)


# --- the rules editor (administrators) ---------------------------------------------------------


def _rules_context(
    session: DbSession, values: dict[str, str] | None = None, errors: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "rules": alerts_service.list_rules(session),
        "metrics": {m.value: [s.value for s in METRIC_SCOPES[m]] for m in Metric},
        "rule_severities": [s.value for s in Severity],
        "rule_values": values or NEW_RULE,
        "rule_errors": errors or {},
    }


def _back(request: Request) -> Response:
    return RedirectResponse("/alerts#rules", status_code=303, headers=SECURITY_HEADERS)


def _rule_form_again(
    request: Request,
    user: Principal,
    session: DbSession,
    values: dict[str, str],
    errors: dict[str, str],
) -> Response:
    page = alerts_service.list_events(session, state="open", limit=PAGE_SIZE)
    context = {
        "events": page.items,
        **_rules_context(session, values, errors),
        "state": "open",
        "source": "",
        "severity": "",
        "states": STATES,
        "sources": SOURCES,
        "severities": SEVERITIES,
        **pager("/alerts", {}, cursor=None, back="", next_cursor=page.next_cursor),
    }
    return render(request, "alerts/list.html", context, user=user, status_code=422)


@router.post("/alerts/rules")
def create_rule(
    request: Request,
    user: FormAdmin,
    session: DbSession,
    name: Annotated[str, Form(max_length=200)] = "",
    metric: Annotated[str, Form(max_length=40)] = "",
    scope: Annotated[str, Form(max_length=16)] = "",
    comparison: Annotated[str, Form(max_length=2)] = ">",
    threshold: Annotated[str, Form(max_length=40)] = "",
    for_seconds: Annotated[str, Form(max_length=40)] = "0",
    window_seconds: Annotated[str, Form(max_length=40)] = "300",
    severity: Annotated[str, Form(max_length=16)] = "warning",
    description: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Create an alert rule from the page's form."""
    values = {
        "name": name.strip(),
        "metric": metric,
        "scope": scope,
        "comparison": comparison,
        "threshold": threshold.strip(),
        "for_seconds": for_seconds.strip() or "0",
        "window_seconds": window_seconds.strip() or "300",
        "severity": severity,
        "description": description.strip(),
    }
    fields: dict[str, Any] = {k: v for k, v in values.items() if v != "" or k == "threshold"}
    try:
        data = RuleCreate.model_validate(fields)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "form"
            errors.setdefault(field if field in RULE_FIELDS else "form", str(err["msg"]))
        return _rule_form_again(request, user, session, values, errors)
    try:
        alerts_service.create_rule(session, data, user.name)
    except ProblemError as exc:
        session.rollback()
        return _rule_form_again(request, user, session, values, {"name": exc.detail})
    return _back(request)


@router.post("/alerts/rules/{rule_id:int}/enable")
def enable_rule(request: Request, rule_id: RuleId, user: FormAdmin, session: DbSession) -> Response:
    """Enable an alert rule."""
    alerts_service.update_rule(session, rule_id, RuleUpdate(enabled=True), user.name)
    return _back(request)


@router.post("/alerts/rules/{rule_id:int}/disable")
def disable_rule(
    request: Request, rule_id: RuleId, user: FormAdmin, session: DbSession
) -> Response:
    """Disable an alert rule (its open events resolve)."""
    alerts_service.update_rule(session, rule_id, RuleUpdate(enabled=False), user.name)
    return _back(request)


@router.post("/alerts/rules/{rule_id:int}/delete")
def delete_rule(request: Request, rule_id: RuleId, user: FormAdmin, session: DbSession) -> Response:
    """Delete an alert rule (its open events resolve)."""
    alerts_service.delete_rule(session, rule_id, user.name)
    return _back(request)
