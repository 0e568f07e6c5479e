"""Which URLs the server may fetch or post to when a user supplied them (scrape targets,
alert webhooks): the guard that keeps it from being a way into the rest of the network.

A host named in the allowlist (``live.scrape_hosts``, ``webhooks.hosts``) is trusted as
named, whatever it resolves to: an administrator listed it. ``*`` stands for any *public*
host: the name is resolved and refused when any of its addresses is loopback, private,
link-local (the cloud metadata address 169.254.169.254), shared, reserved or unspecified,
unless that address itself is listed. Spelling the address another way (``2130706433``,
``[::ffff:127.0.0.1]``) resolves to the same address and is refused the same way.

Not covered: a name whose DNS answer changes between this check and the fetch (rebinding);
the clients also never follow redirects, so a public host cannot bounce a request inward.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _addresses(host: str) -> list[IPAddress]:
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    found: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        found.append(address)
    return found


def refusal(url: str, allowed_hosts: Sequence[str], setting: str) -> str | None:
    """Why ``url`` may not be fetched under ``allowed_hosts`` (named ``setting`` in the
    message), or None when it may."""
    host = (urlsplit(url).hostname or "").lower()
    if not host:
        return "the URL has no host"
    allowed = {h.lower().strip("[]") for h in allowed_hosts}
    if host in allowed:
        return None
    if "*" not in allowed:
        return f"host {host!r} is not in the {setting} setting ({', '.join(allowed_hosts)})"
    try:
        addresses = _addresses(host)
    except (OSError, ValueError) as exc:
        return f"host {host!r} cannot be resolved ({exc})"
    for address in addresses:
        if not address.is_global and str(address) not in allowed:
            return (
                f"host {host!r} resolves to the non-public address {address}; "
                f"'*' in {setting} allows public hosts only, list it to allow it"
            )
    return None
