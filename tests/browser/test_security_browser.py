"""Security findings of issue 12 against a real `streamlit run`: raw websockets and HTTP, Chromium for the victim.

* a client that reconnects with a signed-in teacher's session id (no cookie, no password) is not
  signed in (finding 3);
* proxy mode ignores a client's ``X-Remote-Roles`` (finding 1);
* a websocket with Host and Origin ``evil.example`` is refused (DNS rebinding, finding 8);
* no upload and no cache clearing before sign-in (finding 8).
"""

from __future__ import annotations

import base64
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from google.protobuf import text_format
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from ecgreview.examples import demo_ecg_path
from ecgreview.security.auth import add_user
from ecgreview.security.boundary import PROXY_SECRET_HEADER
from tests.browser.conftest import serving
from tests.browser.reading_helpers import ECG

pytestmark = pytest.mark.browser

LOCAL = {"ECGREVIEW_AUTH": "local", "STREAMLIT_LOGGER_LEVEL": "debug"}
PROXY_SECRET = "browser-test-proxy-secret-0123"
PROXY = {"ECGREVIEW_AUTH": "proxy", "ECGREVIEW_PROXY_SECRET": PROXY_SECRET}
#: Seconds to wait for the server to act on a message.
ACT_TIMEOUT_S = 30


@pytest.fixture(scope="module")
def local_server(tmp_path_factory):
    """The app with local sign-in; its log at debug level names every session id."""
    with serving(tmp_path_factory.mktemp("local"), LOCAL) as running:
        yield running


@pytest.fixture(scope="module")
def proxy_server(tmp_path_factory):
    with serving(tmp_path_factory.mktemp("proxy"), PROXY) as running:
        yield running


@pytest.fixture(scope="module")
def production_server(tmp_path_factory):
    """``streamlit run serve.py`` (the container's command) in name mode."""
    with serving(tmp_path_factory.mktemp("production"), {}, script="serve.py") as running:
        yield running


@pytest.fixture(scope="module")
def local_production_server(tmp_path_factory):
    """``streamlit run serve.py`` with local sign-in."""
    folder = tmp_path_factory.mktemp("production-local")
    with serving(folder, {"ECGREVIEW_AUTH": "local"}, script="serve.py") as running:
        yield running


def _wait_until(condition: Callable[[], bool], what: str, *, timeout_s: float = ACT_TIMEOUT_S) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not seen within {timeout_s} s")
        time.sleep(0.05)  # the poll interval of a wait on a condition


def _port(url: str) -> int:
    return urlsplit(url).port


def _handshake_status(port: int, host: str, origin: str) -> int:
    """HTTP status of a websocket handshake sent with these Host and Origin headers (101: accepted)."""
    key = base64.b64encode(os.urandom(16)).decode()
    request = (f"GET /_stcore/stream HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Protocol: streamlit\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=20) as connection:
        connection.sendall(request.encode())
        return int(connection.recv(4096).split(b" ", 2)[1])


def _xsrf_cookie(url: str) -> str:
    """The ``_streamlit_xsrf`` cookie the server gives a new browser."""
    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=20) as response:  # as the frontend does
        for header in response.headers.get_all("Set-Cookie") or []:
            if header.startswith("_streamlit_xsrf="):
                return header.split(";", 1)[0].split("=", 1)[1]
    raise AssertionError("the server set no _streamlit_xsrf cookie")


def _run_once(url: str, *, session_id: str | None = None, headers: dict[str, str] | None = None,
              cookie: str | None = None, then: BackMsg | None = None,
              until: Callable[[], bool] | None = None) -> tuple[str, str]:
    """Open a websocket session (resuming ``session_id`` when given), run the app once, optionally send ``then``
    and keep the session open until ``until()`` holds (the server acted on it).

    Returns the session id the server assigned and every element it sent, as protobuf text.
    """
    from websockets.sync.client import connect

    extra = dict(headers or {}) | ({"Cookie": f"_streamlit_xsrf={cookie}"} if cookie else {})
    protocols = ["streamlit", cookie or "no-token"] + ([session_id] if session_id else [])
    assigned, shown = "", []
    with connect(f"ws://127.0.0.1:{_port(url)}/_stcore/stream", subprotocols=protocols, additional_headers=extra,
                 open_timeout=30, max_size=None) as websocket:
        websocket.send(BackMsg(rerun_script=ClientState()).SerializeToString())
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            message = ForwardMsg()
            message.ParseFromString(websocket.recv(timeout=90))
            kind = message.WhichOneof("type")
            if kind == "new_session":
                assigned = message.new_session.initialize.session_id
            elif kind == "delta":
                shown.append(text_format.MessageToString(message.delta))
            elif kind == "script_finished" and message.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                break
        if then is not None:
            websocket.send(then.SerializeToString())
            if until is not None:
                _wait_until(until, f"the server's answer to {text_format.MessageToString(then, as_one_line=True)}")
    return assigned, "\n".join(shown)


def _sign_in_in_chromium(page, url: str, name: str, password: str) -> None:
    page.goto(url)
    page.get_by_role("textbox", name="User name").fill(name)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for(timeout=90_000)


def _session_ids(log_path) -> list[str]:
    marker = "Session ID: "
    return [line.rsplit(marker, 1)[1].strip() for line in log_path.read_text().splitlines() if marker in line]


def test_a_session_id_alone_does_not_resume_a_sign_in(local_server, page):
    url, home = local_server
    add_user(home / "users.csv", "teach", "teacher password", ["teacher"])
    _sign_in_in_chromium(page, url, "teach", "teacher password")
    sessions = _session_ids(local_server.log_path)  # in real life: an upload URL in an access log
    page.goto("about:blank")  # the teacher leaves; the session waits for a reconnect
    from websockets.exceptions import InvalidStatus

    refused = 0
    for teacher_session in sessions:  # the browser may have logged more than one id
        try:
            _, shown = _run_once(url, session_id=teacher_session)
        except InvalidStatus as error:  # the signed-in session: the handshake is refused (issue 22 item 3)
            refused += error.response.status_code == 403
            continue
        assert "Sign out" not in shown and "**Reader**" not in shown  # another id: never signed in
    assert refused >= 1


def test_proxy_ignores_roles_sent_by_a_client(proxy_server):
    url, _ = proxy_server
    _, shown = _run_once(url, headers={"X-Remote-User": "mallory", "X-Remote-Roles": "admin",
                                       PROXY_SECRET_HEADER: PROXY_SECRET})
    assert "Roles: reader" in shown and "Roles: admin" not in shown


def test_dns_rebinding_websocket_is_refused(server):
    url, _ = server
    port = _port(url)
    assert _handshake_status(port, f"127.0.0.1:{port}", f"http://127.0.0.1:{port}") == 101
    assert _handshake_status(port, "evil.example", "http://evil.example") == 403
    assert _handshake_status(port, f"evil.example:{port}", f"http://evil.example:{port}") == 403


def _upload(url: str, session_id: str, cookie: str) -> tuple[int, str]:
    boundary = "ecgreview-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"case.dcm\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + demo_ecg_path().read_bytes() + \
        f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(
        f"{url}/_stcore/upload_file/{session_id}/anonymous-file", data=body, method="PUT",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}", "X-Xsrftoken": cookie,
                 "Cookie": f"_streamlit_xsrf={cookie}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, ""
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def _keep_session_open(url: str, cookie: str):
    """An anonymous websocket session that stays connected after one run of the app; (websocket, session id)."""
    from websockets.sync.client import connect

    websocket = connect(f"ws://127.0.0.1:{_port(url)}/_stcore/stream", subprotocols=["streamlit", cookie],
                        additional_headers={"Cookie": f"_streamlit_xsrf={cookie}"}, open_timeout=30, max_size=None)
    websocket.send(BackMsg(rerun_script=ClientState()).SerializeToString())  # the server sends the id then
    session_id = None
    while True:
        message = ForwardMsg()
        message.ParseFromString(websocket.recv(timeout=90))
        kind = message.WhichOneof("type")
        if kind == "new_session":
            session_id = message.new_session.initialize.session_id
        elif kind == "script_finished" and message.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
            return websocket, session_id


def test_no_upload_before_sign_in(local_server):
    url, _ = local_server
    cookie = _xsrf_cookie(url)
    websocket, session_id = _keep_session_open(url, cookie)
    try:
        status, detail = _upload(url, session_id, cookie)
    finally:
        websocket.close()
    assert status == 403 and "Sign in before uploading" in detail


def test_upload_request_is_well_formed_in_name_mode(server):
    """The control for the test above: the same request is accepted where no sign-in exists (name mode)."""
    url, _ = server
    cookie = _xsrf_cookie(url)
    websocket, session_id = _keep_session_open(url, cookie)
    try:
        assert _upload(url, session_id, cookie)[0] == 204
    finally:
        websocket.close()


def test_no_cache_clearing_before_sign_in(local_server):
    url, _ = local_server
    refused = "refused to clear the caches"
    _run_once(url, cookie=_xsrf_cookie(url), then=BackMsg(clear_cache=True),
              until=lambda: refused in local_server.log_path.read_text())
    assert refused in local_server.log_path.read_text()


def test_production_server_sends_security_headers(production_server):
    url, _ = production_server
    for path in ("/", "/_stcore/health"):
        with urllib.request.urlopen(f"{url}{path}", timeout=20) as response:
            policy = response.headers["Content-Security-Policy"]
            assert "img-src 'self' data: blob:" in policy and "frame-ancestors 'self'" in policy
            assert response.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_production_review_page_works_under_its_policy(production_server, page):
    """The policy blocks images from other hosts but not the app: the demo ECG is drawn, nothing is refused."""
    url, _ = production_server
    refused = []
    page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text
            else None)
    page.goto(url)
    page.locator(ECG).first.wait_for(timeout=90_000)  # the ECG paper component: its script runs under the policy
    page.get_by_text("RITMO SINUSALE").first.wait_for(timeout=60_000)
    blocked = page.evaluate("""async () => {
        const image = new Image();
        const loaded = new Promise(resolve => { image.onload = () => resolve("loaded"); image.onerror = () => resolve("blocked"); });
        image.src = "http://127.0.0.2:9/x.png";
        return await loaded;
    }""")
    assert blocked == "blocked"
    assert [text for text in refused if "x.png" not in text and "127.0.0.2" not in text] == []


def test_production_server_refuses_uploads_before_sign_in(local_production_server):
    url, _ = local_production_server
    cookie = _xsrf_cookie(url)
    websocket, session_id = _keep_session_open(url, cookie)
    try:
        status, detail = _upload(url, session_id, cookie)
    finally:
        websocket.close()
    assert status == 403 and "Sign in before uploading" in detail
