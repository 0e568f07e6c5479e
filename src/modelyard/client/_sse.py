"""Server-Sent Events, decoded line by line (the ``text/event-stream`` format).

The server's streams (``/api/jobs/{id}/events``, ``/api/deployments/{id}/events``) send
``event:``, ``id:`` and ``data:`` fields, one event per blank-line-terminated block, and
comment lines (``:``) to keep the connection alive. :class:`EventDecoder` turns lines into
:class:`ServerEvent` values; the last ``id`` seen is what a reconnection sends as
``Last-Event-ID`` so that the server replays what was missed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["EventDecoder", "ServerEvent"]


@dataclass(frozen=True)
class ServerEvent:
    event: str
    data: str
    id: str | None = None

    def json(self) -> Any:
        return json.loads(self.data)


class EventDecoder:
    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None
        self.last_event_id: str | None = None

    def feed(self, line: str) -> ServerEvent | None:
        """One line without its line ending; an event when ``line`` completes one."""
        if not line:
            if not self._data:
                self._event = ""
                return None
            event = ServerEvent(self._event or "message", "\n".join(self._data), self._id)
            self._event, self._data = "", []
            return event
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            self._event = value
        elif field == "data":
            self._data.append(value)
        elif field == "id" and "\0" not in value:
            self._id = self.last_event_id = value
        return None
