"""Issue #22 items 4 and 7: the proxy boundary and the websocket Origin, as pure functions of one request."""

from __future__ import annotations

import pytest

from ecgreview.config import Settings, proxy_boundary_problem
from ecgreview.errors import ConfigError
from ecgreview.security.auth import proxy_user_name, user_from_proxy
from ecgreview.security.boundary import (
    PROXY_SECRET_HEADER,
    origin_allowed,
    parse_cookies,
    proxy_refusal,
    requested_session_id,
)

SECRET = "s3cret-0123456789abcdef"


@pytest.mark.parametrize(("origin", "host", "allowed"), [
    ("http://127.0.0.1:8501", "127.0.0.1:8501", True),
    ("http://127.0.0.1:9999", "127.0.0.1:8501", False),  # the review's finding: another port, same host
    ("http://evil.example:8501", "127.0.0.1:8501", False),
    ("https://ecg.example", "ecg.example", True),  # TLS proxy on 443 forwarding Host without a port
    ("https://ecg.example:8443", "ecg.example", False),
    ("http://[::1]:8501", "[::1]:8501", True),
    ("null", "127.0.0.1:8501", False),
    (None, "127.0.0.1:8501", True),  # not a browser: it could send any Origin
])
def test_origin_is_the_page_port_included(origin, host, allowed):
    assert origin_allowed(origin, host) is allowed


def test_listed_origins_match_scheme_host_and_port():
    listed = ["https://ecg.example"]
    assert origin_allowed("https://ecg.example", "127.0.0.1:8501", allowed_origins=listed)
    assert origin_allowed("https://ecg.example:443", "127.0.0.1:8501", allowed_origins=listed)
    assert not origin_allowed("http://ecg.example", "127.0.0.1:8501", allowed_origins=listed)
    assert not origin_allowed("https://ecg.example:8443", "127.0.0.1:8501", allowed_origins=listed)


def test_identity_header_sent_twice_is_refused():
    twice = [("X-Remote-User", "mallory"), ("x-remote-user", "root")]
    assert proxy_refusal(twice, "127.0.0.1", header="X-Remote-User", secret=None, sources=("127.0.0.1/32",)) == \
        "the X-Remote-User header was sent more than once"
    assert proxy_user_name(twice, header="X-Remote-User") is None  # whichever copy would have won
    assert user_from_proxy(twice, header="X-Remote-User") is None
    roles_twice = [("X-Remote-User", "anna"), ("X-Ecg-Roles", "student"), ("X-Ecg-Roles", "admin")]
    assert user_from_proxy(roles_twice, header="X-Remote-User", roles_header="X-Ecg-Roles") is None
    assert "X-Ecg-Roles header was sent more than once" in proxy_refusal(
        roles_twice, "127.0.0.1", header="X-Remote-User", roles_header="X-Ecg-Roles", secret=SECRET)


def test_shared_secret_is_required_once_and_exactly():
    base = [("X-Remote-User", "rossi")]
    check = lambda headers: proxy_refusal(headers, "172.18.0.5", header="X-Remote-User", secret=SECRET)  # noqa: E731
    assert check(base + [(PROXY_SECRET_HEADER, SECRET)]) is None
    for headers in (base, base + [(PROXY_SECRET_HEADER, SECRET[:-1])],
                    base + [(PROXY_SECRET_HEADER, SECRET), (PROXY_SECRET_HEADER, SECRET)]):
        refusal = check(headers)
        assert refusal == f"the request does not carry the proxy's {PROXY_SECRET_HEADER}" and SECRET not in refusal


def test_source_addresses():
    headers = [("X-Remote-User", "rossi")]
    sources = Settings.from_env({"ECGREVIEW_PROXY_SOURCES": "10.0.0.2, 172.18.0.0/16"}).proxy_sources
    assert proxy_refusal(headers, "10.0.0.2", header="X-Remote-User", sources=sources) is None
    assert proxy_refusal(headers, "172.18.3.4", header="X-Remote-User", sources=sources) is None
    assert proxy_refusal(headers, "::ffff:10.0.0.2", header="X-Remote-User", sources=sources) is None
    for client in ("10.0.0.3", "127.0.0.1", None, "not an address"):
        assert "ECGREVIEW_PROXY_SOURCES" in proxy_refusal(headers, client, header="X-Remote-User", sources=sources)


def test_proxy_mode_needs_a_secret_or_sources(tmp_path):
    environment = {"ECGREVIEW_HOME": str(tmp_path), "ECGREVIEW_AUTH": "proxy"}
    assert "ECGREVIEW_PROXY_SECRET" in proxy_boundary_problem(Settings.from_env(environment))
    assert proxy_boundary_problem(Settings.from_env(environment | {"ECGREVIEW_PROXY_SECRET": SECRET})) is None
    assert proxy_boundary_problem(Settings.from_env(environment | {"ECGREVIEW_PROXY_SOURCES": "10.0.0.2"})) is None
    assert proxy_boundary_problem(Settings.from_env({"ECGREVIEW_HOME": str(tmp_path)})) is None  # name mode
    assert SECRET not in repr(Settings.from_env(environment | {"ECGREVIEW_PROXY_SECRET": SECRET}))
    with pytest.raises(ConfigError, match="ECGREVIEW_PROXY_SECRET: the proxy secret must have at least 16"):
        Settings.from_env(environment | {"ECGREVIEW_PROXY_SECRET": "short"})
    with pytest.raises(ConfigError, match="proxy_sources must be IP addresses or networks; got 'proxy.local'"):
        Settings.from_env(environment | {"ECGREVIEW_PROXY_SOURCES": "proxy.local"})


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("ECGREVIEW_SIGNIN_FREE", "0", "signin_free must be a whole number >= 1"),
    ("ECGREVIEW_SIGNIN_LOCKOUT", "2.5", "signin_lockout must be a whole number >= 1"),
    ("ECGREVIEW_SIGNIN_MAX_DELAY_S", "nan", "signin_max_delay_s must be a number >= 1"),
    ("ECGREVIEW_SIGNIN_CONCURRENCY", "many", "signin_concurrency must be a whole number >= 1"),
    ("ECGREVIEW_UPLOAD_PHI", "keep", "upload_phi must be one of refuse, deidentify"),
])
def test_security_settings_are_checked(tmp_path, variable, value, message):
    with pytest.raises(ConfigError, match=f"{variable}: {message}"):
        Settings.from_env({"ECGREVIEW_HOME": str(tmp_path), variable: value})


def test_security_settings_from_the_config_file(tmp_path):
    (tmp_path / "config.toml").write_text('signin_free = "3"\nsignin_concurrency = "1"\nupload_phi = "deidentify"\n')
    settings = Settings.from_env({"ECGREVIEW_HOME": str(tmp_path)})
    assert (settings.signin_free, settings.signin_concurrency, settings.upload_phi) == (3, 1, "deidentify")
    assert (settings.signin_lockout, settings.signin_max_delay_s) == (10, 60.0)


def test_requested_session_and_cookies():
    assert requested_session_id([("Sec-WebSocket-Protocol", "streamlit, token, abc-123")]) == "abc-123"
    assert requested_session_id([("Sec-WebSocket-Protocol", "streamlit, token")]) is None
    assert requested_session_id([("Sec-WebSocket-Protocol", "streamlit,,"), ("Sec-WebSocket-Protocol", "a,b,c")]) is None
    assert parse_cookies("_streamlit_xsrf=2|aa|bb|1; other=x; _streamlit_xsrf=later") == {
        "_streamlit_xsrf": "2|aa|bb|1", "other": "x"}
