"""Who is reading: local user file (argon2 hashes), trusted proxy header, or OIDC claims.

The reader identity stored with each review comes from here, never from a text field,
unless the site runs in ``name`` mode (a typed name; for a single workstation).

The local user file is a CSV ``name,roles,password_hash`` (roles ``;``-separated) that
only :func:`add_user` writes, under a lock and by atomic replace, with the formula guard of
:mod:`ecgreview.security.spreadsheet` (a name such as ``-x`` or ``@x`` is written ``'-x``). Roles: see :data:`ROLES`.
In ``proxy`` and ``oidc`` mode the same file gives the roles (the password is then unused).

Role policy (pure functions over a :class:`User`; ``None`` stands for ``name`` mode, where a
single workstation trusts whoever sits at it):

* clinicians (``reader``, ``adjudicator``, ``teacher``; ``admin`` has every role) read on the
  review page as ``reader`` rows, see other readers' readings and may use the Cohort page;
* ``adjudicator`` may record a consensus row (role ``adjudicator``);
* ``teacher`` prepares teaching sessions and sees their results;
* a ``student`` (a user with no clinician role) stores ``student`` rows, which never count in the
  consensus, kappa or teaching references, and never sees other readers' or students' readings.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from filelock import FileLock

from ecgreview._files import write_atomically
from ecgreview.errors import ConfigError
from ecgreview.security.boundary import Headers, header_values
from ecgreview.security.spreadsheet import csv_text, unguard_text

_HEADER = ("name", "roles", "password_hash")
_NAME = re.compile(r"^[\w.@+-][\w .@+-]{0,63}$")
_MIN_PASSWORD = 10
_HASHER = PasswordHasher()
_DUMMY_HASH = _HASHER.hash("ecgreview-timing-equaliser")

#: Role of a proxy or OIDC user who is not listed in the user file.
READER = "reader"
ADJUDICATOR = "adjudicator"
TEACHER = "teacher"
STUDENT = "student"
ADMIN = "admin"
#: Every role (a review row's ``role``; a user's roles in the user file). ``admin`` has them all.
ROLES: tuple[str, ...] = (READER, ADJUDICATOR, TEACHER, STUDENT, ADMIN)
#: Roles whose review rows are clinical readings (:func:`ecgreview.review.protocol.clinical_readings`).
READING_ROLES: tuple[str, ...] = (READER, ADJUDICATOR)
#: Roles whose readings vote in the consensus (an adjudicator's reading overrides the vote).
CONSENSUS_ROLES: tuple[str, ...] = (READER,)
#: Roles that may create studies and teaching sessions.
COORDINATOR_ROLES: tuple[str, ...] = (ADMIN, TEACHER)
DEFAULT_ROLE = READER


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
        users[unguard_text(name)] = (_check_roles(roles.split(";"), f"{path.name} line {line}"), password_hash)
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
        rows = [dict(zip(_HEADER, (user, ";".join(sorted(user_roles)), password_hash)))
                for user, (user_roles, password_hash) in sorted(users.items())]
        write_atomically(path, csv_text(rows, columns=_HEADER).encode("utf-8"), mode=0o600)
    return User(name, checked)


def authenticate(path: Path, name: str, password: str) -> User | None:
    """The user when ``password`` matches their hash, else None (same work either way)."""
    users = load_users(path)
    roles, password_hash = users.get(name, (frozenset(), _DUMMY_HASH))
    try:
        _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return User(name, roles) if name in users else None


def user_from_proxy(headers: Headers, *, header: str, users_path: Path | None = None,
                    roles_header: str | None = None) -> User | None:
    """The user a trusted reverse proxy vouches for in ``header``, with roles from the server side.

    Roles come from ``roles_header`` only when the site configured one (``ECGREVIEW_PROXY_ROLES_HEADER``);
    otherwise from the user file (``users_path``) when the name is listed there, else ``reader``. An
    unconfigured header such as ``X-Remote-Roles`` sent by a client is ignored, and a user or roles
    header sent more than once gives no user. Only safe when the app is reachable through that proxy
    alone (:func:`ecgreview.security.boundary.proxy_refusal`), and the proxy sets these headers and
    strips any client copies.
    """
    name = proxy_user_name(headers, header=header)
    if name is None:
        return None
    if roles_header:
        values = header_values(headers, roles_header)
        if len(values) > 1:
            return None
        roles = (values[0] if values else "").replace(",", ";").split(";")
        try:
            return User(name, _check_roles(roles, roles_header))
        except ConfigError:
            return None
    listed = load_users(users_path).get(name) if users_path is not None else None
    return User(name, listed[0] if listed else frozenset({DEFAULT_ROLE}))


def proxy_user_name(headers: Headers, *, header: str) -> str | None:
    """The user name in the proxy's ``header`` (case-insensitive), or None when absent, sent twice or malformed."""
    values = header_values(headers, header)
    name = values[0].strip() if len(values) == 1 else ""
    return name if name and _NAME.match(name) else None


def user_from_oidc(claims: Mapping[str, object], users_path: Path) -> User | None:
    """The user behind OIDC ``claims`` (email, else sub); roles from the user file when listed, else reader."""
    name = str(claims.get("email") or claims.get("sub") or "").strip()
    if not name or not claims.get("is_logged_in", True):
        return None
    listed = load_users(users_path).get(name)
    return User(name, listed[0] if listed else frozenset({DEFAULT_ROLE}))


#: Roles whose readings count as a clinician's (``admin`` has them all).
CLINICIAN_ROLES: tuple[str, ...] = ("reader", "adjudicator", "teacher")


def has_any_role(user: User | None, roles: Iterable[str]) -> bool:
    """Whether ``user`` has one of ``roles`` (``admin`` has all); always, in ``name`` mode (None)."""
    return user is None or any(user.has_role(role) for role in roles)


def is_clinician(user: User | None) -> bool:
    """Whether ``user`` reads as a clinician (reader, adjudicator, teacher or admin); True in ``name`` mode."""
    return has_any_role(user, CLINICIAN_ROLES)


def may_see_other_readings(user: User | None) -> bool:
    """Whether ``user`` may see other readers' and students' readings and comments (not students)."""
    return is_clinician(user)


def reads_blinded(user: User | None) -> bool:
    """Whether ``user`` must read blinded: the DNN, device and other readings only after saving (students)."""
    return not is_clinician(user)


def may_adjudicate(user: User | None) -> bool:
    """Whether ``user`` may record a consensus (adjudicator) row."""
    return has_any_role(user, ("adjudicator",))


def may_open_on_review_page(user: User | None, source_sha256: str, teaching_cases: Collection[str]) -> bool:
    """Whether ``user`` may open a case on the Review page: a student may not open a case of a teaching
    session (``teaching_cases``: their SHA-256s) there, where saving would show the device's and the DNN's
    calls before the student answers the session; a case of a session is read in that session only."""
    return is_clinician(user) or source_sha256.lower() not in teaching_cases


def may_teach(user: User | None) -> bool:
    """Whether ``user`` may prepare teaching sessions and see every student's results."""
    return has_any_role(user, ("teacher",))


def row_role(user: User | None, requested: str = "reader") -> str:
    """The role stored on a review-page row for ``user``: never more than the user holds.

    Parameters
    ----------
    user
        The signed-in user, or None in ``name`` mode.
    requested
        ``"reader"`` for an ordinary reading, ``"adjudicator"`` to record the consensus.

    Returns
    -------
    str
        ``"student"`` for a student (whatever was requested), ``"adjudicator"`` only when requested
        and :func:`may_adjudicate`, else ``"reader"``.
    """
    if requested not in ("reader", "adjudicator"):
        raise ValueError(f"requested must be 'reader' or 'adjudicator'; got {requested!r}")
    if not is_clinician(user):
        return "student"
    return "adjudicator" if requested == "adjudicator" and may_adjudicate(user) else "reader"


def describe_roles(roles: Iterable[str]) -> str:
    """``("reader", "adjudicator", "teacher")`` → ``"readers, adjudicators and teachers"``."""
    names = [f"{role}s" for role in roles]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def is_loopback_address(address: str | None) -> bool:
    """Whether a server bind ``address`` reaches this machine only (127.0.0.0/8, ::1, ``localhost``).

    An empty or missing address means every interface, so it is not loopback.
    """
    if not address:
        return False
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip().strip("[]")).is_loopback
    except ValueError:
        return False
