"""What a Review-page run repeats (issue #23 item 4): a save does not draw the saved case's panel before the app
reruns, and the next case is asked to be prefetched once per session, not on every rerun."""

from __future__ import annotations

from ecgreview.record import CLASSES
from ecgreview.review.store import read_reviews
from ecgreview.ui import decision_panel, resources
from tests.ui.reading_room_fixtures import click_calls, open_page


def _counting(monkeypatch, module, name: str) -> list[object]:
    """Count the calls of ``module.name`` (the app runs in this process, so AppTest's runs call the patched one)."""
    calls: list[object] = []
    original = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(args[0] if args else None)
        return original(*args, **kwargs)
    monkeypatch.setattr(module, name, counted)
    return calls


def _first_worklist_case():
    app = open_page("worklist")  # the bundled demo cases: each has a next case in the worklist's order
    next(button for button in app.button if button.label == "Open first case").click()
    app.run()
    assert not app.exception, app.exception
    app.text_input(key="reader_name_widget").input("Dr Cost").run()
    return app


def test_save_and_next_draws_the_class_grid_once_for_the_next_case(home, monkeypatch):
    app = _first_worklist_case()
    click_calls(app, dict.fromkeys(CLASSES, "absent"))
    saved_case = app.query_params["case"]
    drawn = _counting(monkeypatch, decision_panel, "class_grid")
    app.button(key="save-and-next").click()
    app.run()
    assert not app.exception, app.exception
    assert any("Saved review" in success.value for success in app.success)
    assert len(read_reviews(home / "reviews.csv")) == 1
    assert app.query_params["case"] != saved_case
    assert [analysis.record.source_sha256 for analysis in drawn] == [app.query_params["case"]]  # not the saved one


def test_a_failed_save_still_draws_the_panel_and_says_why(home, monkeypatch):
    app = _first_worklist_case()
    click_calls(app, {CLASSES[0]: "present"})
    drawn = _counting(monkeypatch, decision_panel, "class_grid")
    app.button(key="save-review").click()
    app.run()
    assert not app.exception, app.exception
    assert len(drawn) == 1 and any("answer every class" in error.value for error in app.error)
    assert not (home / "reviews.csv").exists() or len(read_reviews(home / "reviews.csv")) == 0


def test_the_next_case_is_prefetched_once_per_session(home, monkeypatch):
    app = _first_worklist_case()
    asked = _counting(monkeypatch, resources, "prefetch_case")
    for _ in range(3):
        app.run()
        assert not app.exception, app.exception
    assert len(asked) == 0  # asked on the case's first run, before the counting began
    app.button(key="next-case").click()
    app.run()
    app.run()
    assert not app.exception, app.exception
    assert len(asked) == 1  # the case after the new one: once, not once per run


def test_streamlit_runs_no_full_garbage_collection_after_every_run():
    import tomllib
    from pathlib import Path

    options = tomllib.loads((Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml").read_text())
    assert options["runner"]["postScriptGC"] is False  # a full gc.collect() per run was most of a switch's CPU


def test_the_export_panel_is_drawn_and_checks_the_consensus_only_when_opened(home, monkeypatch):
    from ecgreview.ui import export_panel
    from tests.ui.test_review_page import _answer, _open

    checked = _counting(monkeypatch, export_panel, "consensus_to_export")
    app = _answer(_open(), reader="Dr Export", calls=dict.fromkeys(CLASSES, "absent"))
    toggle = app.toggle(key="export-open")
    assert toggle.label == "Export the reading (DICOM SR, HL7 FHIR)" and not toggle.value
    assert not checked and not [radio for radio in app.radio if radio.key == "export-kind"]
    toggle.set_value(True).run()
    assert not app.exception, app.exception
    assert len(checked) == 1  # once for this version of the store
    assert app.radio(key="export-kind").options == ["My reading", "Consensus"]
    assert [button.label for button in app.get("download_button") if button.key in ("export-sr", "export-fhir")] \
        == ["DICOM SR", "FHIR JSON"]


def test_the_report_reading_is_chosen_once_per_store_version(home, monkeypatch):
    from ecgreview.ui import viewer
    from tests.ui.test_review_page import _answer, _open

    chosen = _counting(monkeypatch, viewer, "report_reading")
    app = _answer(_open(), reader="Dr Report", calls=dict.fromkeys(CLASSES, "absent"))
    saved = len(chosen)
    app.run()
    app.run()
    assert not app.exception, app.exception
    assert saved >= 1 and len(chosen) == saved  # reruns on the same version of the store ask no more
    assert any(caption.value.startswith("Your reading saved ") for caption in app.caption)  # the cached reading
    _answer(app, reader="Dr Report", calls=dict.fromkeys(CLASSES, "present"))  # a correction: a new version
    assert len(chosen) == saved + 1
