"""Limits on password guessing: back-off and lockout per account and per client, and bounded argon2 work.

:class:`SignInThrottle` counts failed sign-ins per account (user name) and per client (address)
in the server process, shared by every session (thread-safe; at most ``max_tracked`` of each are
remembered, the least recently failed forgotten first):

* after ``free_attempts`` failures in a row, the next attempt must wait ``first_delay_s``, then
  twice that after each further failure, up to ``max_delay_s``; an attempt made while waiting is
  refused before any password is checked, and does not count;
* after ``lockout_after`` failures in a row an account is locked until an administrator runs
  ``python -m ecgreview users unlock NAME``. Locks of listed users are kept in a small CSV beside
  the user file (:func:`lockout_path`), written atomically with the formula guard, so they survive
  a restart; a name that is not a user is locked in memory only, with the same message (the
  answer never tells whether a user exists). Clients are slowed down, never locked out: behind a
  proxy many readers share one address;
* a success clears the account's count (not the client's: one valid account must not reset the
  guessing of others); counts are forgotten after ``forget_after_s`` without a failure.

:class:`VerificationSlots` bounds the argon2 verifications running at once (each takes 64 MiB):
an attempt waits for a slot at most a few seconds and is otherwise refused.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from filelock import FileLock

from ecgreview._files import write_atomically
from ecgreview.errors import ConfigError
from ecgreview.security.spreadsheet import csv_text, unguard_row

__all__ = ["LOCKOUT_COLUMNS", "SignInThrottle", "ThrottleLimits", "Verdict", "VerificationSlots",
           "forget_shared_state", "locked_accounts", "lockout_path", "shared_slots", "shared_throttle", "unlock_account"]

#: Columns of the lockout file.
LOCKOUT_COLUMNS: tuple[str, ...] = ("name", "locked_at_utc", "failures")


@dataclass(frozen=True)
class ThrottleLimits:
    """When the back-off starts, how long it grows, and when an account locks."""

    free_attempts: int = 5
    first_delay_s: float = 1.0
    max_delay_s: float = 60.0
    lockout_after: int = 10
    forget_after_s: float = 900.0
    max_tracked: int = 10_000

    def __post_init__(self) -> None:
        for name in ("free_attempts", "lockout_after", "max_tracked"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1; got {getattr(self, name)!r}")
        if not 0 < self.first_delay_s <= self.max_delay_s:
            raise ValueError(f"first_delay_s must be in (0, max_delay_s]; got {self.first_delay_s!r}")

    def delay_s(self, failures: int) -> float:
        """The wait after ``failures`` failures in a row: 0, then ``first_delay_s`` doubling up to the cap."""
        if failures < self.free_attempts:
            return 0.0
        return min(self.max_delay_s, self.first_delay_s * 2.0 ** min(failures - self.free_attempts, 60))


@dataclass(frozen=True)
class Verdict:
    """Whether an attempt may go ahead: ``reason`` is ``""``, ``"locked"`` or ``"wait"`` (``retry_after_s`` > 0)."""

    allowed: bool
    reason: str = ""
    retry_after_s: float = 0.0


@dataclass
class _Count:
    failures: int
    last_failure_s: float


def lockout_path(user_file: Path) -> Path:
    """The lockout file beside the user file: ``users.csv`` → ``users-lockouts.csv``."""
    return user_file.with_name(f"{user_file.stem}-lockouts.csv")


def locked_accounts(path: Path) -> dict[str, str]:
    """Name → UTC time of the lock, from the lockout file (a missing file: none).

    Raises
    ------
    ConfigError
        The file cannot be read, or its header is not :data:`LOCKOUT_COLUMNS`.
    """
    return {name: row["locked_at_utc"] for name, row in _lockout_rows(path).items()}


def _lockout_rows(path: Path) -> dict[str, dict[str, str]]:
    if not path.is_file():
        return {}
    try:
        reader = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))
        rows = [unguard_row(row) for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(path, f"cannot read the lockout file: {exc}") from exc
    if tuple(reader.fieldnames or ()) != LOCKOUT_COLUMNS:
        raise ConfigError(path, f"the lockout file must start with the header {','.join(LOCKOUT_COLUMNS)}")
    return {row["name"]: row for row in rows}


def _change_lockouts(path: Path, change: Callable[[dict[str, dict[str, str]]], bool]) -> bool:
    """Apply ``change`` to the lockout rows under the file's lock; rewrite the file when it returns True."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{path}.lock", timeout=10):
        rows = _lockout_rows(path)
        changed = change(rows)
        if changed:
            text = csv_text(list(rows.values()), columns=LOCKOUT_COLUMNS, numeric_columns=("failures",))
            write_atomically(path, text.encode("utf-8"), mode=0o600)
    return changed


def unlock_account(path: Path, name: str) -> bool:
    """Lift the lock of ``name`` in the lockout file; False when it was not locked."""
    return _change_lockouts(path, lambda rows: rows.pop(name, None) is not None)


def _lock_account(path: Path, name: str, failures: int) -> None:
    when = datetime.now(timezone.utc).isoformat(timespec="seconds")

    def lock(rows: dict[str, dict[str, str]]) -> bool:
        rows[name] = {"name": name, "locked_at_utc": when, "failures": str(failures)}
        return True

    _change_lockouts(path, lock)


class SignInThrottle:
    """Back-off and lockout of sign-ins, shared by the sessions of one server (see the module docstring).

    Parameters
    ----------
    lockout_file
        Where the locks of listed users are kept (:func:`lockout_path` of the user file).
    limits
        The thresholds.
    clock
        Seconds, monotonic (a test passes a fake one).
    """

    def __init__(self, lockout_file: Path, limits: ThrottleLimits = ThrottleLimits(), *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.lockout_file, self.limits, self._clock = lockout_file, limits, clock
        self._lock = threading.Lock()
        self._accounts: OrderedDict[str, _Count] = OrderedDict()
        self._clients: OrderedDict[str, _Count] = OrderedDict()
        self._locked_in_memory: OrderedDict[str, float] = OrderedDict()

    def check(self, account: str, client: str) -> Verdict:
        """Whether an attempt for ``account`` from ``client`` may check a password now."""
        if account in locked_accounts(self.lockout_file):
            return Verdict(False, "locked")
        now = self._clock()
        with self._lock:
            if account in self._locked_in_memory:
                return Verdict(False, "locked")
            waits = [self._wait_s(table.get(key), now) for table, key in ((self._accounts, account), (self._clients, client))]
        wait = max(waits)
        return Verdict(False, "wait", wait) if wait > 0 else Verdict(True)

    def record_failure(self, account: str, client: str, *, listed: bool) -> Verdict:
        """Count a wrong password; returns the verdict for the next attempt (``locked`` when this one locked it).

        ``listed``: whether ``account`` is a user of the user file (only those locks are written to disk).
        """
        now = self._clock()
        with self._lock:
            failures = self._count(self._accounts, account, now)
            self._count(self._clients, client, now)
            locks = failures >= self.limits.lockout_after
            if locks:
                self._accounts.pop(account, None)
                if not listed:
                    self._locked_in_memory[account] = now
                    self._trim(self._locked_in_memory)
        if locks and listed:
            _lock_account(self.lockout_file, account, failures)
        return Verdict(False, "locked") if locks else self.check(account, client)

    def record_success(self, account: str) -> None:
        """A correct password: the account's count starts again (the client's does not)."""
        with self._lock:
            self._accounts.pop(account, None)

    def failures(self, account: str) -> int:
        """Failed sign-ins in a row counted for ``account`` now (0 once forgotten or locked)."""
        with self._lock:
            count = self._accounts.get(account)
            return 0 if count is None or self._forgotten(count, self._clock()) else count.failures

    def _forgotten(self, count: _Count, now: float) -> bool:
        return now - count.last_failure_s > self.limits.forget_after_s

    def _wait_s(self, count: _Count | None, now: float) -> float:
        if count is None or self._forgotten(count, now):
            return 0.0
        return max(0.0, count.last_failure_s + self.limits.delay_s(count.failures) - now)

    def _count(self, table: OrderedDict[str, _Count], key: str, now: float) -> int:
        count = table.pop(key, None)
        failures = 1 if count is None or self._forgotten(count, now) else count.failures + 1
        table[key] = _Count(failures, now)  # most recent last
        self._trim(table)
        return failures

    def _trim(self, table: OrderedDict[str, Any]) -> None:
        while len(table) > self.limits.max_tracked:
            table.popitem(last=False)


class VerificationSlots:
    """At most ``size`` password verifications at once; :meth:`slot` waits for one up to ``timeout_s``."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1; got {size!r}")
        self.size = size
        self._semaphore = threading.BoundedSemaphore(size)

    @contextmanager
    def slot(self, *, timeout_s: float) -> Iterator[bool]:
        """Yield True while holding a slot, or False when none was free within ``timeout_s``."""
        acquired = self._semaphore.acquire(timeout=timeout_s)
        try:
            yield acquired
        finally:
            if acquired:
                self._semaphore.release()


_SHARED_LOCK = threading.Lock()
_SHARED_THROTTLES: dict[tuple[Path, ThrottleLimits], SignInThrottle] = {}
_SHARED_SLOTS: dict[int, VerificationSlots] = {}


def shared_throttle(lockout_file: Path, limits: ThrottleLimits) -> SignInThrottle:
    """The one throttle of this process for ``lockout_file`` and ``limits`` (created at first use)."""
    with _SHARED_LOCK:
        if (lockout_file, limits) not in _SHARED_THROTTLES:
            _SHARED_THROTTLES[lockout_file, limits] = SignInThrottle(lockout_file, limits)
        return _SHARED_THROTTLES[lockout_file, limits]


def shared_slots(size: int) -> VerificationSlots:
    """The one set of ``size`` verification slots of this process."""
    with _SHARED_LOCK:
        if size not in _SHARED_SLOTS:
            _SHARED_SLOTS[size] = VerificationSlots(size)
        return _SHARED_SLOTS[size]


def forget_shared_state() -> None:
    """Drop the shared throttles and slots (tests; a new server process starts empty anyway)."""
    with _SHARED_LOCK:
        _SHARED_THROTTLES.clear()
        _SHARED_SLOTS.clear()
