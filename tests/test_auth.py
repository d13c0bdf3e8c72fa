import pytest

from ecgreview.auth import User, add_user, authenticate, load_users, user_from_oidc, user_from_proxy
from ecgreview.config import Settings
from ecgreview.errors import ConfigError


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
    assert user_from_proxy({"X-Remote-User": "t", "X-Remote-Roles": "teacher,reader"}, header="X-Remote-User").roles == {"teacher", "reader"}
    assert user_from_proxy({}, header="X-Remote-User") is None
    assert user_from_proxy({"X-Remote-User": "x", "X-Remote-Roles": "root"}, header="X-Remote-User") is None


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
