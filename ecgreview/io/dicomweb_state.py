"""The DICOMweb sync's high-water mark: which study dates an incremental search asks for.

DICOMweb (QIDO-RS) cannot ask "what was stored since my last search", so an incremental sync asks
for the instances whose StudyDate is on or after the *mark*: the newest study date seen so far
(never later than the day of the sync: a study dated in the future cannot hide the days before it),
less :data:`LOOKBACK_DAYS` for ECGs that reach the server a few days after they were recorded. A full
search (every ECG instance) runs on the first sync, when the server changes, when asked for, and at
least every :data:`FULL_SEARCH_INTERVAL_S`: it is what finds an instance without a StudyDate, or an old
study imported late (a prior ECG from an archive).

The mark is kept in ``<cache>/sync-state.json`` beside the retrieved instances. A full search is asked for
(the Worklist page's button) by :func:`request_full_search`, which leaves ``<cache>/full-search-requested``
for the next sync, run by the index's background updater under its lock like every sync; the sync that
searches everything removes the request it saw (:func:`clear_full_search_request`), and a request made
while it ran stays for the next one.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from ecgreview._files import write_atomically

__all__ = ["FULL_SEARCH_INTERVAL_S", "FULL_SEARCH_REQUEST_FILE", "LOOKBACK_DAYS", "STATE_FILE", "SyncState",
           "clear_full_search_request", "full_search_request", "incremental_from", "next_state", "read_state",
           "request_full_search", "write_state"]

#: The file in the cache folder that holds the mark.
STATE_FILE = "sync-state.json"
#: Days before the mark an incremental search still asks for (ECGs sent to the server late).
LOOKBACK_DAYS = 7
#: The longest time between two full searches, in seconds (one day).
FULL_SEARCH_INTERVAL_S = 24 * 3600.0
#: The file in the cache folder that asks the next sync for a full search (it holds when it was asked, UTC).
FULL_SEARCH_REQUEST_FILE = "full-search-requested"


@dataclass(frozen=True)
class SyncState:
    """What the last sync saw: the server (:func:`~ecgreview.io.dicomweb.server_label`), the newest study
    date found (``YYYYMMDD``, capped at the sync's day; ``""``: none) and when the last full search ran
    (UTC, ISO 8601)."""

    server: str
    study_date_mark: str = ""
    full_search_utc: str = ""


def read_state(cache: Path) -> SyncState | None:
    """The stored state, or None when there is none or it cannot be read (the next search is then full)."""
    try:
        values = json.loads((cache / STATE_FILE).read_text(encoding="utf-8"))
        return SyncState(**{key: str(values[key]) for key in ("server", "study_date_mark", "full_search_utc")})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_state(cache: Path, state: SyncState) -> None:
    """Store ``state`` (file 0600, written whole)."""
    cache.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_atomically(cache / STATE_FILE, json.dumps(asdict(state)).encode("utf-8"), mode=0o600)


def incremental_from(state: SyncState | None, *, server: str, now_utc: datetime,
                     lookback_days: int = LOOKBACK_DAYS) -> str | None:
    """The first StudyDate (``YYYYMMDD``) an incremental search asks for, or None: search everything
    (no state, another server, no mark, or the last full search is :data:`FULL_SEARCH_INTERVAL_S` old)."""
    if lookback_days < 0:
        raise ValueError(f"lookback_days must be >= 0; got {lookback_days}")
    if state is None or state.server != server or not state.study_date_mark or not state.full_search_utc:
        return None
    try:
        last_full = datetime.fromisoformat(state.full_search_utc)
        mark = datetime.strptime(state.study_date_mark, "%Y%m%d").date()
    except ValueError:
        return None
    if (now_utc - last_full).total_seconds() >= FULL_SEARCH_INTERVAL_S:
        return None
    return (mark - timedelta(days=lookback_days)).strftime("%Y%m%d")


def next_state(state: SyncState | None, *, server: str, study_dates: list[str], full: bool,
               now_utc: datetime) -> SyncState:
    """The state after a search that found instances of ``study_dates`` (``YYYYMMDD``; others ignored)."""
    today = now_utc.astimezone(timezone.utc).date()
    known = [state.study_date_mark] if state is not None and state.server == server else []
    dates = [text for text in [*study_dates, *known] if _is_date(text, today)]
    return SyncState(server=server, study_date_mark=max(dates, default=""),
                     full_search_utc=now_utc.isoformat() if full else (state.full_search_utc if state else ""))


def _is_date(text: str, today: date) -> bool:
    """A ``YYYYMMDD`` date no later than ``today``."""
    try:
        return len(text) == 8 and datetime.strptime(text, "%Y%m%d").date() <= today
    except ValueError:
        return False


def request_full_search(cache: Path, *, now_utc: datetime) -> None:
    """Ask the next sync for a full search (see the module docstring); ``now_utc`` is kept as when it was asked."""
    cache.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_atomically(cache / FULL_SEARCH_REQUEST_FILE, now_utc.astimezone(timezone.utc).isoformat().encode("ascii"),
                     mode=0o600)


def full_search_request(cache: Path) -> str:
    """When a full search not run yet was asked for (UTC, ISO 8601), or ``""``: none asked for. A request
    that cannot be read still counts (``"unknown"``): the next sync searches everything."""
    path = cache / FULL_SEARCH_REQUEST_FILE
    try:
        return path.read_text(encoding="ascii").strip() or "unknown"
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError):
        return "unknown" if path.exists() else ""


def clear_full_search_request(cache: Path, seen: str) -> None:
    """Remove the request a full search has answered: the one read as ``seen`` (:func:`full_search_request`)
    before the search; a request made since, while the search ran, stays."""
    if seen and full_search_request(cache) == seen:
        (cache / FULL_SEARCH_REQUEST_FILE).unlink(missing_ok=True)
