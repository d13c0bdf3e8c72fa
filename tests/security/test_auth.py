import pytest

from ecgreview.config import Settings
from ecgreview.errors import ConfigError
from ecgreview.security.auth import (
    CLINICIAN_ROLES,
    User,
    add_user,
    authenticate,
    describe_roles,
    is_clinician,
    is_loopback_address,
    load_users,
    may_adjudicate,
    may_see_other_readings,
    may_teach,
    row_role,
    user_from_oidc,
    user_from_proxy,
)


def test_add_and_authenticate(tmp_path):
    users = tmp_path / "users.csv"
    add_user(users, "dr.rossi", "correct horse battery", ["reader", "adjudicator"])
    assert authenticate(users, "dr.rossi", "correct horse battery") == User("dr.rossi", frozenset({"reader", "adjudicator"}))
    assert authenticate(users, "dr.rossi", "wrong password!") is None
    assert authenticate(users, "nobody", "correct horse battery") is None
    text = users.read_text()
    assert "correct horse" not in text and "$argon2id$" in text
    assert (users.stat().st_mode & 0o777) == 0o600


def test_existing_user_needs_replace(tmp_path):
    users = tmp_path / "users.csv"
    add_user(users, "anna", "first password", ["student"])
    with pytest.raises(ConfigError, match="user 'anna' exists"):
        add_user(users, "anna", "second password", ["student"])
    add_user(users, "anna", "second password", ["teacher"], replace=True)
    assert authenticate(users, "anna", "second password").roles == {"teacher"}
    assert len(load_users(users)) == 1


@pytest.mark.parametrize(("name", "password", "roles", "match"), [
    ("", "long enough pw", ["reader"], "user name"),
    ("=cmd|x", "long enough pw", ["reader"], "user name"),
    ("ok", "short", ["reader"], "at least 10"),
    ("ok", "long enough pw", ["superuser"], "roles must be one or more of"),
    ("ok", "long enough pw", [], "roles must be one or more of"),
])
def test_bad_user_is_refused(tmp_path, name, password, roles, match):
    with pytest.raises(ConfigError, match=match):
        add_user(tmp_path / "users.csv", name, password, roles)
    assert not (tmp_path / "users.csv").exists()


def test_malformed_user_file_is_named(tmp_path):
    users = tmp_path / "users.csv"
    users.write_text("who,what\n")
    with pytest.raises(ConfigError, match="users.csv: the user file must start with the header"):
        load_users(users)


def test_admin_has_every_role():
    assert User("root", frozenset({"admin"})).has_role("adjudicator")
    assert not User("s", frozenset({"student"})).has_role("teacher")


def test_proxy_header():
    assert user_from_proxy({"x-remote-user": "dr.bianchi"}, header="X-Remote-User") == User("dr.bianchi", frozenset({"reader"}))
    assert user_from_proxy({}, header="X-Remote-User") is None
    assert user_from_proxy({"X-Remote-User": "=cmd|x"}, header="X-Remote-User") is None


def test_proxy_roles_sent_by_a_client_are_ignored(tmp_path):
    """Finding 1: a client's X-Remote-Roles (not configured) gives no role; the user file does."""
    users = tmp_path / "users.csv"
    add_user(users, "teach", "unused password", ["teacher"])
    forged = {"X-Remote-User": "mallory", "X-Remote-Roles": "admin"}
    assert user_from_proxy(forged, header="X-Remote-User", users_path=users) == User("mallory", frozenset({"reader"}))
    assert user_from_proxy({"X-Remote-User": "teach", "X-Remote-Roles": "admin"}, header="X-Remote-User",
                           users_path=users).roles == {"teacher"}


def test_configured_proxy_roles_header(tmp_path):
    headers = {"X-Remote-User": "t", "X-Ecg-Roles": "teacher,reader", "X-Remote-Roles": "admin"}
    assert user_from_proxy(headers, header="X-Remote-User", roles_header="X-Ecg-Roles").roles == {"teacher", "reader"}
    assert user_from_proxy({"X-Remote-User": "x", "X-Ecg-Roles": "root"}, header="X-Remote-User",
                           roles_header="X-Ecg-Roles") is None
    assert user_from_proxy({"X-Remote-User": "x"}, header="X-Remote-User", roles_header="X-Ecg-Roles") is None


def test_proxy_roles_header_setting(tmp_path):
    home = {"ECGREVIEW_HOME": str(tmp_path)}
    assert Settings.from_env(home).proxy_roles_header is None
    assert Settings.from_env(home | {"ECGREVIEW_PROXY_ROLES_HEADER": "X-Ecg-Roles"}).proxy_roles_header == "X-Ecg-Roles"
    (tmp_path / "config.toml").write_text('proxy_roles_header = "X-Site-Roles"\n', encoding="utf-8")
    assert Settings.from_env(home).proxy_roles_header == "X-Site-Roles"


STUDENT = User("s", frozenset({"student"}))
READER = User("r", frozenset({"reader"}))
ADJUDICATOR = User("a", frozenset({"reader", "adjudicator"}))
TEACHER = User("t", frozenset({"teacher"}))
ADMIN = User("root", frozenset({"admin"}))


@pytest.mark.parametrize(("user", "requested", "stored"), [
    (STUDENT, "reader", "student"), (STUDENT, "adjudicator", "student"),
    (READER, "reader", "reader"), (READER, "adjudicator", "reader"),
    (ADJUDICATOR, "adjudicator", "adjudicator"), (ADJUDICATOR, "reader", "reader"),
    (TEACHER, "reader", "reader"), (TEACHER, "adjudicator", "reader"),
    (ADMIN, "adjudicator", "adjudicator"), (None, "adjudicator", "adjudicator"), (None, "reader", "reader"),
])
def test_row_role_is_the_users(user, requested, stored):
    assert row_role(user, requested) == stored


def test_row_role_refuses_other_requests():
    with pytest.raises(ValueError, match="requested must be 'reader' or 'adjudicator'"):
        row_role(READER, "admin")


def test_role_policy():
    assert [may_see_other_readings(user) for user in (STUDENT, READER, TEACHER, ADMIN, None)] == [False, True, True, True, True]
    assert [is_clinician(user) for user in (STUDENT, READER, ADJUDICATOR, TEACHER)] == [False, True, True, True]
    assert is_clinician(User("both", frozenset({"student", "reader"})))
    assert [may_teach(user) for user in (STUDENT, READER, TEACHER, ADMIN)] == [False, False, True, True]
    assert [may_adjudicate(user) for user in (STUDENT, READER, ADJUDICATOR, ADMIN)] == [False, False, True, True]
    assert describe_roles(CLINICIAN_ROLES) == "readers, adjudicators and teachers"


@pytest.mark.parametrize(("address", "loopback"), [
    ("127.0.0.1", True), ("127.0.1.1", True), ("localhost", True), ("::1", True), ("[::1]", True),
    ("0.0.0.0", False), ("", False), (None, False), ("10.1.2.3", False), ("::", False), ("ecg.example", False),
])
def test_loopback_address(address, loopback):
    assert is_loopback_address(address) is loopback


def test_oidc_claims_use_user_file_roles(tmp_path):
    users = tmp_path / "users.csv"
    add_user(users, "ada@example.org", "unused password", ["adjudicator"])
    assert user_from_oidc({"email": "ada@example.org", "is_logged_in": True}, users).roles == {"adjudicator"}
    assert user_from_oidc({"email": "new@example.org"}, users).roles == {"reader"}
    assert user_from_oidc({"is_logged_in": False}, users) is None


def test_auth_mode_setting(tmp_path):
    assert Settings.from_env({"ECGREVIEW_HOME": str(tmp_path)}).auth_mode == "name"
    assert Settings.from_env({"ECGREVIEW_HOME": str(tmp_path), "ECGREVIEW_AUTH": "local"}).users_path == tmp_path / "users.csv"
    with pytest.raises(ConfigError, match="auth must be one of name, local, proxy, oidc"):
        Settings.from_env({"ECGREVIEW_HOME": str(tmp_path), "ECGREVIEW_AUTH": "open"})
