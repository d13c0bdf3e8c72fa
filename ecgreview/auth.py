"""Who is reading: local user file (argon2 hashes), trusted proxy header, or OIDC claims.

The reader identity stored with each review comes from here, never from a text field,
unless the site runs in ``name`` mode (a typed name; for a single workstation).

The local user file is a CSV ``name,roles,password_hash`` (roles ``;``-separated) that
only :func:`add_user` writes, under a lock and by atomic replace. Roles: see :data:`ROLES`.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from filelock import FileLock

from ecgreview.errors import ConfigError
from ecgreview.reviews import ROLES

_HEADER = ("name", "roles", "password_hash")
_NAME = re.compile(r"^[\w.@+-][\w .@+-]{0,63}$")
_MIN_PASSWORD = 10
_HASHER = PasswordHasher()
_DUMMY_HASH = _HASHER.hash("ecgreview-timing-equaliser")


@dataclass(frozen=True)
class User:
    """An authenticated reader and their roles."""

    name: str
    roles: frozenset[str]

    def has_role(self, role: str) -> bool:
        return role in self.roles or "admin" in self.roles


def _check_roles(roles: Iterable[str], source: str) -> frozenset[str]:
    roles = frozenset(role.strip() for role in roles if role.strip())
    unknown = sorted(roles - set(ROLES))
    if unknown or not roles:
        raise ConfigError(source, f"roles must be one or more of {', '.join(ROLES)}; got {sorted(roles) or 'none'}")
    return roles


def load_users(path: Path) -> dict[str, tuple[frozenset[str], str]]:
    """Name → (roles, argon2 hash) from the user file; a missing file is no users."""
    if not path.is_file():
        return {}
    try:
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(path, f"cannot read the user file: {exc}") from exc
    if not rows or tuple(rows[0]) != _HEADER:
        raise ConfigError(path, f"the user file must start with the header {','.join(_HEADER)}")
    users = {}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(_HEADER):
            raise ConfigError(path, f"line {line}: expected {len(_HEADER)} fields, got {len(row)}")
        name, roles, password_hash = row
        users[name] = (_check_roles(roles.split(";"), f"{path.name} line {line}"), password_hash)
    return users


def add_user(path: Path, name: str, password: str, roles: Iterable[str], *, replace: bool = False) -> User:
    """Add a user (or, with ``replace``, reset one) in the user file; returns the user."""
    if not _NAME.match(name):
        raise ConfigError(path, f"user name {name!r} must be 1-64 letters, digits, spaces or . @ + - _")
    if len(password) < _MIN_PASSWORD:
        raise ConfigError(path, f"password must have at least {_MIN_PASSWORD} characters")
    checked = _check_roles(roles, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{path}.lock", timeout=10):
        users = load_users(path)
        if name in users and not replace:
            raise ConfigError(path, f"user {name!r} exists; use replace to reset the password or roles")
        users[name] = (checked, _HASHER.hash(password))
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(_HEADER)
        writer.writerows([user, ";".join(sorted(user_roles)), password_hash] for user, (user_roles, password_hash) in sorted(users.items()))
        _replace_atomically(path, buffer.getvalue())
    return User(name, checked)


def _replace_atomically(path: Path, text: str) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def authenticate(path: Path, name: str, password: str) -> User | None:
    """The user when ``password`` matches their hash, else None (same work either way)."""
    users = load_users(path)
    roles, password_hash = users.get(name, (frozenset(), _DUMMY_HASH))
    try:
        _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return User(name, roles) if name in users else None


def user_from_proxy(headers: Mapping[str, str], *, header: str, roles_header: str = "X-Remote-Roles") -> User | None:
    """The user a trusted reverse proxy vouches for in ``header`` (roles in ``roles_header``, default reader).

    Only safe when the app is reachable through that proxy alone, which strips the headers from clients.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    name = lowered.get(header.lower(), "").strip()
    if not name or not _NAME.match(name):
        return None
    roles = lowered.get(roles_header.lower(), "reader").replace(",", ";").split(";")
    try:
        return User(name, _check_roles(roles, roles_header))
    except ConfigError:
        return None


def user_from_oidc(claims: Mapping[str, object], users_path: Path) -> User | None:
    """The user behind OIDC ``claims`` (email, else sub); roles from the user file when listed, else reader."""
    name = str(claims.get("email") or claims.get("sub") or "").strip()
    if not name or not claims.get("is_logged_in", True):
        return None
    listed = load_users(users_path).get(name)
    return User(name, listed[0] if listed else frozenset({"reader"}))
