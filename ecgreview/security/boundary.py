"""The app's network boundary as pure functions of one request: its headers, cookies and peer address.

The server guards (:mod:`ecgreview.ui.server_guards`) apply these to every HTTP request and
websocket handshake before Streamlit sees it, and the sign-in (:mod:`ecgreview.ui.identity`)
applies them again to the headers of the websocket each script run reads:

* :func:`browser_binding`: the digest that binds a local sign-in to the browser that made it
  (Streamlit's ``_streamlit_xsrf`` cookie token);
* :func:`proxy_refusal`: in ``proxy`` mode, why a request does not come from the trusted proxy
  (no or a wrong shared secret, a source address outside the proxy's, or the identity header sent
  more than once, which lets a client's copy win behind a proxy that *adds* its own);
* :func:`origin_allowed`: whether a websocket's ``Origin`` is the page's own origin, port included;
* :func:`requested_session_id`: the Streamlit session a websocket asks to resume.

Headers are given as ``(name, value)`` pairs, so that a header sent twice is seen twice; a
mapping is accepted where duplicates cannot occur. Nothing here reads a value into a message:
a refusal names the header, never its content.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import urlsplit

__all__ = ["PROXY_SECRET_HEADER", "XSRF_COOKIE", "browser_binding", "header_values", "origin_allowed",
           "parse_cookies", "proxy_refusal", "requested_session_id"]

#: The header in which the reverse proxy sends ``ECGREVIEW_PROXY_SECRET`` on every request.
PROXY_SECRET_HEADER = "X-Ecgreview-Proxy-Secret"
#: Streamlit's XSRF cookie: random per browser, kept across reloads, sent with every websocket handshake.
XSRF_COOKIE = "_streamlit_xsrf"
_BINDING_CONTEXT = b"ecgreview session binding v1:"
_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}

Headers = Mapping[str, str] | Iterable[tuple[str, str]]


def header_values(headers: Headers, name: str) -> list[str]:
    """Every value of header ``name`` (case-insensitive), in the order sent."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    wanted = name.lower()
    return [value for key, value in pairs if key.lower() == wanted]


def parse_cookies(cookie_header: str) -> dict[str, str]:
    """The cookies of a ``Cookie`` header (``a=1; b=2``); the first of a repeated name wins, as in browsers."""
    cookies: dict[str, str] = {}
    for part in cookie_header.split(";"):
        name, separator, value = part.strip().partition("=")
        if separator and name and name not in cookies:
            cookies[name] = value.strip()
    return cookies


def browser_binding(cookies: Mapping[str, str]) -> str | None:
    """Digest of the browser's XSRF token in ``cookies``, or None when there is no readable token.

    Streamlit's cookie reads ``2|<mask hex>|<masked token hex>|<timestamp>`` (version 2; the mask
    changes on every HTTP response, the token does not) or ``<token hex>`` (version 1).
    """
    value = cookies.get(XSRF_COOKIE, "").strip("\"'")
    try:
        if value.startswith("2|"):
            _, mask_hex, masked_hex, _ = value.split("|")
            mask, masked = bytes.fromhex(mask_hex), bytes.fromhex(masked_hex)
            token = bytes(byte ^ mask[index % len(mask)] for index, byte in enumerate(masked)) if mask else b""
        else:
            token = bytes.fromhex(value)
    except ValueError:
        return None
    return hashlib.sha256(_BINDING_CONTEXT + token).hexdigest() if len(token) >= 16 else None


def proxy_refusal(
    headers: Headers, client_host: str | None, *, header: str, roles_header: str | None = None,
    secret: str | None = None, sources: Sequence[str] = (),
) -> str | None:
    """Why a request in ``proxy`` mode is not the trusted proxy's, or None when it is.

    Parameters
    ----------
    headers
        The request's headers, as pairs (a header sent twice appears twice).
    client_host
        The peer address the server reports (None: unknown).
    header, roles_header
        The identity header and the roles header (when the site configured one): each may be
        absent (no sign-in) but never sent more than once.
    secret
        ``ECGREVIEW_PROXY_SECRET``: when set, :data:`PROXY_SECRET_HEADER` must carry it, once.
    sources
        ``ECGREVIEW_PROXY_SOURCES`` (normalised networks): when given, ``client_host`` must be in one.

    Returns
    -------
    str or None
        A reason naming the header or the address check (never a header's value), or None.
    """
    pairs = list(headers.items() if isinstance(headers, Mapping) else headers)
    for name in (header, roles_header):
        if name and len(header_values(pairs, name)) > 1:
            return f"the {name} header was sent more than once"
    if sources and not _in_networks(client_host, sources):
        return "the request does not come from an address in ECGREVIEW_PROXY_SOURCES"
    if secret:
        sent = header_values(pairs, PROXY_SECRET_HEADER)
        if len(sent) != 1 or not hmac.compare_digest(sent[0].strip().encode(), secret.encode()):
            return f"the request does not carry the proxy's {PROXY_SECRET_HEADER}"
    return None


def _in_networks(address: str | None, networks: Sequence[str]) -> bool:
    try:
        ip = ipaddress.ip_address((address or "").strip("[]"))
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in ipaddress.ip_network(network, strict=False) for network in networks)


def _address(text: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) of an origin URL or a ``Host`` header, lower case; the scheme's default port
    when the URL leaves it out; port None for a ``Host`` header without one."""
    stripped = text.strip()
    parts = urlsplit(stripped if "://" in stripped else f"//{stripped}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host:
        return None
    scheme = parts.scheme.lower()
    return scheme, host, port if port is not None else _DEFAULT_PORTS.get(scheme)


def origin_allowed(origin: str | None, host: str | None, *, allowed_origins: Iterable[str] = ()) -> bool:
    """Whether a websocket from ``origin`` may reach this app, whose ``Host`` header is ``host``.

    Same origin means the same host **and port** (a ``Host`` without a port matches an origin on
    port 80 or 443, the proxy's TLS port); another origin is allowed only when listed in
    ``allowed_origins`` (Streamlit's ``server.corsAllowedOrigins``), scheme, host and port alike.
    A handshake without ``Origin`` (not a browser) is allowed: such a client can send any Origin
    it likes, so refusing adds nothing.
    """
    if origin is None:
        return True
    page = _address(origin)
    if page is None or not page[0]:
        return False
    served = _address(host) if host else None
    if served is not None and served[1] == page[1]:
        if served[2] == page[2] or (served[2] is None and page[2] in (80, 443)):
            return True
    return page in {_address(allowed) for allowed in allowed_origins if allowed.strip()}


def requested_session_id(headers: Headers) -> str | None:
    """The session id a Streamlit websocket asks to resume: the third entry of ``Sec-WebSocket-Protocol``.

    Read as Streamlit reads it (the first such header, entries split on commas, positions kept).
    """
    values = header_values(headers, "sec-websocket-protocol")
    entries = [entry.strip() for entry in values[0].split(",")] if values else []
    return entries[2] if len(entries) >= 3 and entries[2] else None
