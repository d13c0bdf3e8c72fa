"""Issue #22 item 1-2: back-off and lockout of password guessing, and the bound on argon2 verifications at once."""

from __future__ import annotations

import stat
import threading
import time

import pytest

from ecgreview.cli import main as cli_main
from ecgreview.errors import ConfigError
from ecgreview.security.throttle import (
    SignInThrottle,
    ThrottleLimits,
    VerificationSlots,
    locked_accounts,
    lockout_path,
    unlock_account,
)


class Clock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _throttle(tmp_path, clock, **limits) -> SignInThrottle:
    return SignInThrottle(lockout_path(tmp_path / "users.csv"), ThrottleLimits(**limits), clock=clock)


def test_delay_doubles_after_the_free_attempts_up_to_the_cap():
    limits = ThrottleLimits(free_attempts=5, first_delay_s=1.0, max_delay_s=60.0)
    assert [limits.delay_s(count) for count in range(4, 13)] == [0, 1, 2, 4, 8, 16, 32, 60, 60]


def test_guesses_are_slowed_down_per_account(tmp_path, clock):
    throttle = _throttle(tmp_path, clock, lockout_after=100)
    for _ in range(4):
        assert throttle.record_failure("root", "10.0.0.9", listed=True).allowed
    after = throttle.record_failure("root", "10.0.0.9", listed=True)  # the fifth
    assert not after.allowed and after.reason == "wait" and after.retry_after_s == pytest.approx(1.0)
    assert throttle.check("root", "10.0.0.7") == after  # another address, same account: waits too
    clock.now_s += 1.01
    assert throttle.check("root", "10.0.0.7").allowed
    throttle.record_failure("root", "10.0.0.7", listed=True)
    assert throttle.check("root", "10.0.0.8").retry_after_s == pytest.approx(2.0)


def test_guesses_are_slowed_down_per_client(tmp_path, clock):
    throttle = _throttle(tmp_path, clock, lockout_after=100)
    for number in range(5):  # five accounts, one each: no account reaches its limit
        throttle.record_failure(f"user{number}", "10.0.0.9", listed=False)
    assert throttle.check("user9", "10.0.0.9").reason == "wait"
    assert throttle.check("user9", "10.0.0.1").allowed


def test_lockout_is_written_guarded_and_lifted_by_an_admin(tmp_path, clock, monkeypatch, capsys):
    throttle = _throttle(tmp_path, clock, lockout_after=3)
    for _ in range(2):
        throttle.record_failure("-root", "10.0.0.9", listed=True)
        clock.now_s += 100
    assert throttle.record_failure("-root", "10.0.0.9", listed=True).reason == "locked"
    path = lockout_path(tmp_path / "users.csv")
    assert path.name == "users-lockouts.csv" and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().splitlines()[1].startswith("'-root,")  # formula guard
    assert list(locked_accounts(path)) == ["-root"]
    clock.now_s += 10_000
    assert throttle.check("-root", "10.0.0.1").reason == "locked"  # time does not lift it
    monkeypatch.setenv("ECGREVIEW_USERS", str(tmp_path / "users.csv"))
    assert cli_main(["users", "locked"]) == 0 and "-root" in capsys.readouterr().out
    assert cli_main(["users", "unlock", "--", "-root"]) == 0
    assert throttle.check("-root", "10.0.0.1").allowed and locked_accounts(path) == {}
    assert cli_main(["users", "unlock", "--", "-root"]) == 1  # not locked any more


def test_a_name_that_is_no_user_locks_in_memory_only(tmp_path, clock):
    throttle = _throttle(tmp_path, clock, lockout_after=2)
    throttle.record_failure("ghost", "10.0.0.9", listed=False)
    clock.now_s += 100
    assert throttle.record_failure("ghost", "10.0.0.9", listed=False).reason == "locked"
    assert not lockout_path(tmp_path / "users.csv").exists()
    assert throttle.check("ghost", "10.0.0.1").reason == "locked"  # the same answer as for a user


def test_success_clears_the_account_not_the_client(tmp_path, clock):
    throttle = _throttle(tmp_path, clock, lockout_after=100)
    for _ in range(4):
        throttle.record_failure("rossi", "10.0.0.9", listed=True)
    throttle.record_success("rossi")
    assert throttle.failures("rossi") == 0
    throttle.record_failure("bianchi", "10.0.0.9", listed=True)  # the client's fifth failure
    assert throttle.check("bianchi", "10.0.0.9").reason == "wait"


def test_counts_are_forgotten_after_a_quiet_period(tmp_path, clock):
    throttle = _throttle(tmp_path, clock, lockout_after=100, forget_after_s=900)
    for _ in range(5):
        throttle.record_failure("rossi", "10.0.0.9", listed=True)
    clock.now_s += 901
    assert throttle.check("rossi", "10.0.0.9").allowed and throttle.failures("rossi") == 0


def test_memory_is_bounded(tmp_path, clock):
    throttle = _throttle(tmp_path, clock, max_tracked=3, lockout_after=100)
    for number in range(50):
        throttle.record_failure(f"user{number}", f"10.0.{number}.1", listed=False)
    assert len(throttle._accounts) == 3 and len(throttle._clients) == 3
    assert throttle.failures("user49") == 1 and throttle.failures("user0") == 0


def test_counting_is_thread_safe(tmp_path, clock):
    throttle = _throttle(tmp_path, clock, lockout_after=10_000)
    threads = [threading.Thread(target=lambda: [throttle.record_failure("rossi", "10.0.0.9", listed=True)
                                                for _ in range(100)]) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert throttle.failures("rossi") == 800


def test_bad_lockout_file_is_named(tmp_path):
    path = lockout_path(tmp_path / "users.csv")
    path.write_text("who,when\n")
    with pytest.raises(ConfigError, match="users-lockouts.csv: the lockout file must start with the header"):
        locked_accounts(path)
    assert unlock_account(tmp_path / "none.csv", "x") is False


def test_limits_are_checked():
    with pytest.raises(ValueError, match="free_attempts must be at least 1"):
        ThrottleLimits(free_attempts=0)
    with pytest.raises(ValueError, match="size must be at least 1"):
        VerificationSlots(0)


def test_verification_slots_bound_the_work_at_once():
    slots = VerificationSlots(2)
    running, most = [0], [0]
    lock = threading.Lock()

    def verify() -> None:
        with slots.slot(timeout_s=30) as free:
            assert free
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            time.sleep(0.02)  # the verification's work: a slot held long enough for the threads to overlap
            with lock:
                running[0] -= 1

    threads = [threading.Thread(target=verify) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] == 2
    with slots.slot(timeout_s=1) as first, slots.slot(timeout_s=1) as second:
        started = time.monotonic()
        with slots.slot(timeout_s=0.2) as third:
            assert first and second and not third and time.monotonic() - started >= 0.2
