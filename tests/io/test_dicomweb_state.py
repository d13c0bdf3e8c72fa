"""The DICOMweb sync's high-water mark (ecgreview.io.dicomweb_state): when a search may be incremental,
from which study date, and what the next mark is; a full search asked for (the Worklist page's button) is run by
the next sync, which clears it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ecgreview.config import Settings
from ecgreview.io.dicomweb import dicomweb_cache, sync_dicomweb
from ecgreview.io.dicomweb_state import (
    FULL_SEARCH_INTERVAL_S,
    SyncState,
    clear_full_search_request,
    full_search_request,
    incremental_from,
    next_state,
    read_state,
    request_full_search,
    write_state,
)

NOW = datetime(2024, 3, 12, 12, 0, tzinfo=timezone.utc)
SERVER = "http://127.0.0.1:8042/dicom-web"


def test_the_mark_is_the_newest_study_date_up_to_today():
    state = next_state(None, server=SERVER, study_dates=["20240301", "", "20991231", "2024-03-05", "20240310"],
                       full=True, now_utc=NOW)
    assert state == SyncState(SERVER, "20240310", NOW.isoformat())
    later = next_state(state, server=SERVER, study_dates=["20240308"], full=False, now_utc=NOW)
    assert later.study_date_mark == "20240310" and later.full_search_utc == NOW.isoformat()  # never backwards


def test_an_incremental_search_starts_a_lookback_before_the_mark():
    state = SyncState(SERVER, "20240310", NOW.isoformat())
    assert incremental_from(state, server=SERVER, now_utc=NOW, lookback_days=7) == "20240303"
    assert incremental_from(state, server=SERVER, now_utc=NOW, lookback_days=0) == "20240310"
    with pytest.raises(ValueError, match="lookback_days must be >= 0"):
        incremental_from(state, server=SERVER, now_utc=NOW, lookback_days=-1)


@pytest.mark.parametrize("state", [None, SyncState("https://other/dicom-web", "20240310", NOW.isoformat()),
                                   SyncState(SERVER, "", NOW.isoformat()), SyncState(SERVER, "20240310", ""),
                                   SyncState(SERVER, "2024031x", NOW.isoformat())])
def test_no_usable_state_means_a_full_search(state):
    assert incremental_from(state, server=SERVER, now_utc=NOW) is None


def test_a_full_search_at_least_daily():
    state = SyncState(SERVER, "20240310", NOW.isoformat())
    almost = NOW + timedelta(seconds=FULL_SEARCH_INTERVAL_S - 1)
    assert incremental_from(state, server=SERVER, now_utc=almost) is not None
    assert incremental_from(state, server=SERVER, now_utc=almost + timedelta(seconds=1)) is None


def test_the_state_is_kept_beside_the_cache_and_a_bad_file_means_none(tmp_path):
    state = SyncState(SERVER, "20240310", NOW.isoformat())
    write_state(tmp_path / "cache", state)
    assert read_state(tmp_path / "cache") == state
    assert oct((tmp_path / "cache" / "sync-state.json").stat().st_mode & 0o777) == oct(0o600)
    (tmp_path / "cache" / "sync-state.json").write_text("{not json", encoding="utf-8")
    assert read_state(tmp_path / "cache") is None
    assert read_state(tmp_path / "nothing") is None


def test_a_full_search_request_is_kept_until_a_full_search_answers_it(tmp_path):
    cache = tmp_path / "cache"
    assert full_search_request(cache) == ""
    request_full_search(cache, now_utc=NOW)
    seen = full_search_request(cache)
    assert datetime.fromisoformat(seen) == NOW
    assert oct((cache / "full-search-requested").stat().st_mode & 0o777) == oct(0o600)
    request_full_search(cache, now_utc=NOW + timedelta(minutes=5))  # asked again while the search ran
    clear_full_search_request(cache, seen)
    assert datetime.fromisoformat(full_search_request(cache)) == NOW + timedelta(minutes=5)  # kept for the next
    clear_full_search_request(cache, full_search_request(cache))
    assert full_search_request(cache) == ""


class _Client:
    """A DICOMweb client that finds nothing and keeps what it was asked."""

    def __init__(self) -> None:
        self.asked: list[dict] = []

    def search_for_instances(self, **options):
        self.asked.append(options["search_filters"])
        return []


def test_the_next_sync_searches_everything_when_asked_and_then_incrementally(tmp_path):
    settings = Settings(home=tmp_path, models_dir=tmp_path / "models", reviews_path=tmp_path / "reviews.csv",
                        dicomweb_url=SERVER)
    cache = dicomweb_cache(settings)
    write_state(cache, SyncState(SERVER, "20240310", (NOW - timedelta(hours=1)).isoformat()))
    client = _Client()
    assert sync_dicomweb(settings, client=client, now_utc=NOW).searched_from != ""  # incremental
    assert all("StudyDate" in filters for filters in client.asked)
    request_full_search(cache, now_utc=NOW)
    client.asked.clear()
    assert sync_dicomweb(settings, client=client, now_utc=NOW + timedelta(minutes=1)).searched_from == ""
    assert client.asked and all("StudyDate" not in filters for filters in client.asked)  # every instance
    assert full_search_request(cache) == ""  # answered
    state = read_state(cache)
    assert state is not None and state.full_search_utc == (NOW + timedelta(minutes=1)).isoformat()
    assert sync_dicomweb(settings, client=client, now_utc=NOW + timedelta(minutes=2)).searched_from != ""
