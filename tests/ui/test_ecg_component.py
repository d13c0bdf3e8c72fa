"""The ECG paper component's data (no browser): what it is given is the paper plotly draws, as compact arrays.

The browser side (it draws, it switches case in place) is in tests/browser/test_ecg_paper.py.
"""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest

from ecgreview.ecg_paper import LAYOUTS, page_starts_s
from ecgreview.plots import plot_ecg
from ecgreview.record import LEAD_ORDER, EcgRecord
from ecgreview.ui.ecg_component import decode_points, encode_points, paper_payload

RATE_HZ = 500.0


def _record(seconds: float = 10.0, *, peak_mv: float = 1.0) -> EcgRecord:
    time_s = np.arange(int(seconds * RATE_HZ)) / RATE_HZ
    beats = peak_mv * np.exp(-0.5 * ((time_s % 1.0 - 0.5) / 0.01) ** 2)
    signal = np.tile(beats[:, None], (1, 12)) * np.linspace(0.5, 1.5, 12)[None, :]
    return EcgRecord(signal.astype(np.float32), RATE_HZ, LEAD_ORDER)


def test_points_round_trip_as_float32():
    values = np.array([0.0, -1.25, 3.5e2, np.nan], dtype=np.float64)
    decoded = decode_points(encode_points(values))
    assert decoded.dtype == np.float32 and decoded[:3].tolist() == [0.0, -1.25, 350.0] and np.isnan(decoded[3])


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize(("speed_mm_s", "gain_mm_mv"), [(25.0, 10.0), (50.0, 20.0)])
def test_the_payload_is_the_paper_plotly_draws(layout, speed_mm_s, gain_mm_mv):
    record = _record()
    options = {"layout": layout, "speed_mm_s": speed_mm_s, "gain_mm_mv": gain_mm_mv, "pixels_per_mm": 5.0}
    payload = paper_payload(record, **options)
    figure = plot_ecg(record, **options)
    assert [payload["width_mm"], payload["height_mm"]] == pytest.approx(list(figure.layout.meta["paper_mm"]))
    for name in ("standard_width_mm", "standard_height_mm"):
        assert payload["meta"][name] == pytest.approx(figure.layout.meta[name])
    leads = [trace for trace in figure.data if trace.name]
    assert [segment["label"] for segment in payload["segments"]] == [trace.name for trace in leads]
    for segment, trace in zip(payload["segments"], leads):
        np.testing.assert_array_equal(decode_points(segment["x"]), np.asarray(trace.x, dtype=np.float32))
        np.testing.assert_array_equal(decode_points(segment["y"]), np.asarray(trace.y, dtype=np.float32))
    pulses = [trace for trace in figure.data if not trace.name]
    assert len(payload["pulses"]) == len(pulses) == len(LAYOUTS[layout])
    for (x_mm, y_mm), trace in zip(payload["pulses"], pulses):
        assert x_mm == pytest.approx(list(trace.x)) and y_mm == pytest.approx(list(trace.y))
        assert max(y_mm) - min(y_mm) == pytest.approx(gain_mm_mv)  # 1 mV
    assert payload["caption"] == figure.layout.annotations[-1].text
    json.dumps(payload)  # what Streamlit sends


def test_tall_complexes_stay_on_the_paper():
    payload = paper_payload(_record(peak_mv=5.0), pixels_per_mm=5.0)
    caption_mm = payload["caption_mm"]
    for segment in payload["segments"]:
        y_mm = decode_points(segment["y"])
        assert y_mm.max() <= payload["height_mm"] - caption_mm and y_mm.min() >= 0, segment["label"]
    assert payload["height_mm"] > paper_payload(_record(), pixels_per_mm=5.0)["height_mm"]


def test_pages_and_display_resolution():
    record = _record(15.0)
    first, second = (paper_payload(record, pixels_per_mm=5.0, start_s=start) for start in page_starts_s(15.0))
    assert "5–15 s of 15 s" in second["caption"] and first["id"] != second["id"]
    assert paper_payload(record, pixels_per_mm=5.0)["id"] == first["id"]  # the same data: the browser keeps it
    coarse = paper_payload(record, pixels_per_mm=1.0)
    assert sum(len(s["x"]) for s in coarse["segments"]) < sum(len(s["x"]) for s in first["segments"])


def test_derived_leads_are_marked_and_the_note_is_printed():
    record = _record().replace(derived_leads=frozenset({"III", "aVR", "aVL", "aVF"}))
    payload = paper_payload(record, pixels_per_mm=5.0, note="display filters off")
    labels = [segment["label"] for segment in payload["segments"]]
    assert "III*" in labels and "I" in labels and "V1" in labels
    assert payload["caption"].endswith("* derived lead · display filters off")


@pytest.mark.parametrize(("options", "message"), [
    ({"layout": "4x3"}, "layout must be one of"), ({"pixels_per_mm": 0.0}, "pixels_per_mm must be positive"),
    ({"speed_mm_s": -25.0}, "speed_mm_s must be positive")])
def test_bad_options_name_the_parameter(options, message):
    with pytest.raises(ValueError, match=message):
        paper_payload(_record(), **({"pixels_per_mm": 5.0} | options))


def test_strings_from_files_are_never_parsed_as_markup():
    source = (resources.files("ecgreview.ui.ecg_component") / "paper.js").read_text(encoding="utf-8")
    assert "innerHTML" not in source and "insertAdjacentHTML" not in source and "textContent" in source
