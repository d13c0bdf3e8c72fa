"""Issue #20 item 5 and #22 items 3, 4, 7: every Streamlit server patch in one guarded module, and its middleware.

The middleware is driven here with hand-made ASGI scopes; tests/browser/test_security_round_two.py
sends the same requests to a real ``streamlit run app.py``.
"""

from __future__ import annotations

import ast
import asyncio
import os
import re
from pathlib import Path

import pytest
import streamlit
from streamlit.web.server.app_discovery import discover_asgi_app
from streamlit.web.server.starlette.starlette_app_utils import generate_xsrf_token_string

from ecgreview.config import Settings
from ecgreview.errors import ConfigError
from ecgreview.security.auth import User
from ecgreview.security.boundary import PROXY_SECRET_HEADER, XSRF_COOKIE
from ecgreview.ui import server_guards
from tests.conftest import REPO

SECRET = "proxy-secret-0123456789"


def test_the_guarded_version_is_the_pinned_one():
    pins = {path: re.search(r"^streamlit==([\w.]+)", (REPO / path).read_text(), re.MULTILINE)
            for path in ("requirements.txt", "requirements.lock")}
    assert {path: pin.group(1) for path, pin in pins.items() if pin} == dict.fromkeys(pins, server_guards.STREAMLIT_VERSION)
    assert streamlit.__version__ == server_guards.STREAMLIT_VERSION  # the environment the tests run in


def test_another_streamlit_is_refused_with_a_clear_message():
    server_guards.check_streamlit_version(server_guards.STREAMLIT_VERSION)
    with pytest.raises(ConfigError, match=r"streamlit: ecgreview's server guards .* were written for Streamlit "
                                          r"1\.67\.0, the version requirements\.txt pins; this is Streamlit 1\.68\.0\. "
                                          r"Install the pinned one"):
        server_guards.check_streamlit_version("1.68.0")


def test_every_streamlit_patch_lives_in_server_guards():
    """No other module of the package assigns to an attribute of a Streamlit object."""
    offenders = []
    for path in (REPO / "ecgreview").rglob("*.py"):
        tree = ast.parse(path.read_text())
        streamlit_names = {alias.asname or alias.name.split(".")[-1] for node in ast.walk(tree)
                           if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("streamlit")
                           for alias in node.names}
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
                node, (ast.AugAssign, ast.AnnAssign)) else []
            for target in targets:
                if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) \
                        and target.value.id in streamlit_names | {"st", "streamlit"}:
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
        if any(isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr"
               for node in ast.walk(tree)) and streamlit_names:
            offenders.append(f"{path.relative_to(REPO)}: setattr")
    assert {offender.split(":")[0] for offender in offenders} <= {"ecgreview/ui/server_guards.py"}, offenders


@pytest.mark.parametrize("script", ["app.py", "serve.py"])
def test_both_entry_points_are_served_with_the_guards(script):
    """``streamlit run app.py`` (README, start.sh) and ``streamlit run serve.py`` both serve an st.App, with the
    guards as its middleware and the warm start as its lifespan (ui/serving.app_options)."""
    found = discover_asgi_app(REPO / script)  # found by the literal st.App call (a helper returning one is not)
    assert found.is_asgi_app and found.app_name == "app"
    assert "st.App(" in (REPO / script).read_text() and "**serving.app_options()" in (REPO / script).read_text()


def test_the_app_options_are_the_guards_and_the_warm_start(tmp_path, monkeypatch):
    from ecgreview.ui import serving, warm_start

    monkeypatch.setenv("ECGREVIEW_HOME", str(tmp_path))
    options = serving.app_options()
    assert [entry.cls for entry in options["middleware"]] == [server_guards.GuardsMiddleware]
    assert options["lifespan"] is warm_start.lifespan


# -- the middleware, with hand-made ASGI scopes -----------------------------------------------------------------------

def _settings(tmp_path: Path, **environment: str) -> Settings:
    return Settings.from_env({"ECGREVIEW_HOME": str(tmp_path), **environment})


def _call(settings: Settings, scope: dict) -> tuple[list[dict], bool]:
    """(messages the middleware sent, whether the app behind it was reached)."""
    sent: list[dict] = []
    reached = []

    async def app(scope, receive, send):
        reached.append(True)
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"x-frame-options", b"DENY")]})
            await send({"type": "http.response.body", "body": b"ok"})

    async def receive():
        return {"type": "http.request"}

    async def send(message):
        sent.append(message)

    asyncio.run(server_guards.GuardsMiddleware(app, settings=settings)(scope, receive, send))
    return sent, bool(reached)


def _scope(kind: str = "http", path: str = "/", headers: list[tuple[str, str]] = (), client: str = "127.0.0.1") -> dict:
    return {"type": kind, "path": path, "client": (client, 50000),
            "headers": [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]}


def _status(sent: list[dict]) -> int | None:
    start = next((message for message in sent if message["type"] in ("http.response.start", "websocket.close")), None)
    return None if start is None else start.get("status", 403 if start["type"] == "websocket.close" else None)


def test_every_response_carries_the_security_headers(tmp_path):
    sent, reached = _call(_settings(tmp_path), _scope())
    headers = dict(sent[0]["headers"])
    assert reached and headers[b"x-frame-options"] == b"SAMEORIGIN"  # replaces the app's own
    assert b"frame-ancestors 'self'" in headers[b"content-security-policy"]
    assert headers[b"x-content-type-options"] == b"nosniff" and headers[b"referrer-policy"] == b"no-referrer"


def test_metrics_need_sign_in(tmp_path):
    assert _status(_call(_settings(tmp_path, ECGREVIEW_AUTH="local"), _scope(path="/_stcore/metrics"))[0]) == 403
    assert _status(_call(_settings(tmp_path, ECGREVIEW_AUTH="local"), _scope(path="/x/_stcore/metrics"))[0]) == 403
    assert _status(_call(_settings(tmp_path), _scope(path="/_stcore/metrics"))[0]) == 200  # name mode: loopback only


def test_websocket_origin_port_counts(tmp_path):
    def handshake(origin: str) -> bool:
        return _call(_settings(tmp_path), _scope("websocket", "/_stcore/stream",
                                                 [("Host", "127.0.0.1:8501"), ("Origin", origin)]))[1]

    assert handshake("http://127.0.0.1:8501") and not handshake("http://127.0.0.1:9999")


def test_proxy_requests_must_come_from_the_proxy(tmp_path):
    settings = _settings(tmp_path, ECGREVIEW_AUTH="proxy", ECGREVIEW_PROXY_SECRET=SECRET)
    good = [("X-Remote-User", "rossi"), (PROXY_SECRET_HEADER, SECRET)]
    assert _call(settings, _scope(headers=good))[1]
    for headers in ([("X-Remote-User", "rossi")], good + [("X-Remote-User", "root")]):
        sent, reached = _call(settings, _scope(headers=headers))
        assert not reached and _status(sent) == 403
        assert SECRET.encode() not in sent[1]["body"]
    assert _call(settings, _scope(path="/_stcore/health"))[1]  # the container's health check
    by_address = _settings(tmp_path, ECGREVIEW_AUTH="proxy", ECGREVIEW_PROXY_SOURCES="172.18.0.2")
    assert _call(by_address, _scope(headers=[("X-Remote-User", "rossi")], client="172.18.0.2"))[1]
    assert not _call(by_address, _scope(headers=[("X-Remote-User", "rossi")], client="172.18.0.9"))[1]


def test_proxy_mode_without_a_way_to_recognise_the_proxy_does_not_start(tmp_path, monkeypatch):
    monkeypatch.setenv("ECGREVIEW_HOME", str(tmp_path))
    monkeypatch.setenv("ECGREVIEW_AUTH", "proxy")
    for variable in ("ECGREVIEW_PROXY_SECRET", "ECGREVIEW_PROXY_SOURCES", "ECGREVIEW_CONFIG"):
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(ConfigError, match="ECGREVIEW_AUTH: ECGREVIEW_AUTH=proxy trusts the user header only from"):
        server_guards.middleware()
    monkeypatch.setenv("ECGREVIEW_PROXY_SECRET", SECRET)
    assert len(server_guards.middleware()) == 1


def _cookie(token: bytes) -> str:
    return f"{XSRF_COOKIE}={generate_xsrf_token_string(token)}"


def test_a_signed_in_session_stays_with_its_browser(tmp_path):
    """A leaked session id: another browser's reconnect (or upload) is refused before Streamlit hands it over."""
    settings = _settings(tmp_path, ECGREVIEW_AUTH="local")
    owner, impostor = os.urandom(16), os.urandom(16)
    binding = server_guards.connection_binding(settings, [], {XSRF_COOKIE: generate_xsrf_token_string(owner)})
    server_guards.register_session("teacher-session", User("teach", frozenset({"teacher"})), binding)
    try:
        def resume(cookie: str | None, session: str = "teacher-session") -> bool:
            headers = [("Host", "127.0.0.1:8501"), ("Origin", "http://127.0.0.1:8501"),
                       ("Sec-WebSocket-Protocol", f"streamlit, token, {session}")]
            return _call(settings, _scope("websocket", "/_stcore/stream", headers + (
                [("Cookie", cookie)] if cookie else [])))[1]

        assert resume(_cookie(owner))  # the owner's reload: the same token under a new mask
        assert not resume(_cookie(impostor)) and not resume(None)
        assert resume(_cookie(impostor), session="someone-else")  # not a signed-in session: Streamlit decides
        upload = _scope(path="/_stcore/upload_file/teacher-session/file-1", headers=[("Cookie", _cookie(impostor))])
        assert _status(_call(settings, upload)[0]) == 403
    finally:
        server_guards.forget_session("teacher-session")
