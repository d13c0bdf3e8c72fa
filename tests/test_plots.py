"""Plots: layouts, single-lead zoom, median beats, display filters on a copy only."""

from __future__ import annotations

import numpy as np
import pytest

from ecgreview.ecg_paper import page_starts_s
from ecgreview.plots import (
    DEFAULT_PIXELS_PER_MM,
    LAYOUTS,
    DisplayFilters,
    filter_for_display,
    plot_ecg,
    plot_lead,
    plot_median_beats,
)
from ecgreview.record import LEAD_ORDER, EcgRecord, Waveform

RATE_HZ = 500.0


def _record(seconds: float = 10.0) -> EcgRecord:
    time_s = np.arange(int(seconds * RATE_HZ)) / RATE_HZ
    beats = np.exp(-0.5 * ((time_s % 1.0 - 0.5) / 0.01) ** 2)  # 60 bpm spikes, 1 mV
    wander = 0.8 * np.sin(2 * np.pi * 0.1 * time_s)
    mains = 0.2 * np.sin(2 * np.pi * 50.0 * time_s)
    signal = np.tile((beats + wander + mains)[:, None], (1, 12)).astype(np.float32)
    median = Waveform(signal[:600].copy(), RATE_HZ, LEAD_ORDER)
    return EcgRecord(signal, RATE_HZ, LEAD_ORDER, median_beats=median)


def _lead_traces(figure):
    return [trace for trace in figure.data if trace.name]


@pytest.mark.parametrize(("layout", "traces"), [("3x4+II", 13), ("6x2", 12), ("12x1", 12)])
def test_layouts_draw_each_lead_at_display_resolution(layout, traces):
    record = _record()
    figure = plot_ecg(record, layout=layout, speed_mm_s=50, gain_mm_mv=20, pixels_per_mm=1.5,
                      note="display filters off")
    leads = _lead_traces(figure)
    assert len(leads) == traces
    assert all(lead.customdata is None for lead in leads)  # no per-point customdata is sent to the browser
    # Decimated to the pixels: at most two points per pixel column (plus the ends), far fewer than the samples ...
    width_px = figure.layout.width
    assert all(len(lead.x) <= 2 * width_px + 2 for lead in leads)
    assert sum(len(lead.x) for lead in leads) < record.signal_mv.shape[0] * traces / 2
    # ... yet every 1 mV beat peak (gain 20 mm/mV) is still drawn.
    baseline = np.asarray(leads[0].y).min()
    assert np.asarray(leads[0].y).max() - baseline > 0.9 * 20
    assert "50 mm/s · 20 mm/mV" in figure.layout.annotations[-1].text
    assert "display filters off" in figure.layout.annotations[-1].text


def _paper_mm(figure) -> tuple[float, float]:
    """The paper's extent in mm, read from the figure's axes (x range, y range)."""
    x_range, y_range = figure.layout.xaxis.range, figure.layout.yaxis.range
    return x_range[1] - x_range[0], y_range[1] - y_range[0]


def _calibration_height_px(figure) -> float:
    """Height in px of the first row's calibration pulse, from the figure's size and axes."""
    pulse = figure.data[0]
    height_mm = _paper_mm(figure)[1]
    return (max(pulse.y) - min(pulse.y)) * figure.layout.height / height_mm


@pytest.mark.parametrize("pixels_per_mm", [DEFAULT_PIXELS_PER_MM, 3.7795, 5.0])
def test_true_scale_one_millivolt_is_ten_mm_at_the_screens_pixels_per_mm(pixels_per_mm):
    figure = plot_ecg(_record(), pixels_per_mm=pixels_per_mm)
    width_mm, height_mm = _paper_mm(figure)
    # No margins: the figure's pixels are the paper's millimetres times pixels_per_mm, on both axes.
    assert figure.layout.margin.l == figure.layout.margin.r == figure.layout.margin.t == figure.layout.margin.b == 0
    assert figure.layout.width == pytest.approx(width_mm * pixels_per_mm, abs=0.5)
    assert figure.layout.height == pytest.approx(height_mm * pixels_per_mm, abs=0.5)
    assert _calibration_height_px(figure) == pytest.approx(10 * pixels_per_mm, rel=0.01)  # 1 mV = 10 mm
    pulse = figure.data[0]
    assert (max(pulse.x) - min(pulse.x)) == pytest.approx(0.2 * 25 + 2)  # 200 ms at 25 mm/s, 1 mm either side
    assert figure.layout.meta["paper_mm"] == pytest.approx([width_mm, height_mm])


def test_speed_and_gain_magnify_the_paper():
    record = _record()
    standard = plot_ecg(record)
    fast, tall = plot_ecg(record, speed_mm_s=50), plot_ecg(record, gain_mm_mv=20)
    # 50 mm/s: the 10 s of traces take twice the width; the pulse is 10 mm wide instead of 5.
    trace_width = lambda figure: np.ptp(np.asarray(_lead_traces(figure)[-1].x))  # noqa: E731  the rhythm strip
    assert trace_width(fast) == pytest.approx(2 * trace_width(standard), rel=0.01)
    assert fast.layout.width > 1.9 * standard.layout.width and fast.layout.height == standard.layout.height
    # 20 mm/mV: the rows are twice as far apart and the pulse twice as tall, in pixels too.
    assert tall.layout.height > 1.9 * standard.layout.height and tall.layout.width == standard.layout.width
    assert _calibration_height_px(tall) == pytest.approx(2 * _calibration_height_px(standard), rel=0.01)
    baselines = lambda figure: sorted({round(min(trace.y), 3) for trace in figure.data if not trace.name})  # noqa: E731
    assert np.diff(baselines(tall)) == pytest.approx(2 * np.diff(baselines(standard)))
    # What the viewer fits to the column is the standard paper's size, whatever the magnification.
    for figure in (fast, tall):
        assert figure.layout.meta["standard_width_mm"] == pytest.approx(standard.layout.meta["paper_mm"][0])
        assert figure.layout.meta["standard_height_mm"] == pytest.approx(standard.layout.meta["paper_mm"][1], rel=0.05)


def _tall_record() -> EcgRecord:
    """V4 (top row of the 3 x 4) with 4.5 mV R waves, V6 and the lead II strip with -3 mV S waves."""
    record = _record()
    signal = record.signal_mv.copy()
    time_s = np.arange(signal.shape[0]) / RATE_HZ
    spike = np.exp(-0.5 * ((time_s % 1.0 - 0.3) / 0.01) ** 2)
    signal[:, LEAD_ORDER.index("V4")] += 4.5 * spike
    signal[:, LEAD_ORDER.index("II")] -= 3.0 * spike
    return record.replace(signal_mv=signal)


def _outside_paper(figure) -> list[str]:
    """Leads with a point outside the paper's axes (plotly would cut them off there)."""
    (x_low, x_high), (y_low, y_high) = figure.layout.xaxis.range, figure.layout.yaxis.range
    return [trace.name for trace in _lead_traces(figure)
            if min(trace.y) < y_low or max(trace.y) > y_high or min(trace.x) < x_low or max(trace.x) > x_high]


@pytest.mark.parametrize("gain_mm_mv", [5, 10, 20])
def test_tall_complexes_are_never_cut_off(gain_mm_mv):
    tall = plot_ecg(_tall_record(), gain_mm_mv=gain_mm_mv)
    assert _outside_paper(tall) == []
    v4 = next(trace for trace in _lead_traces(tall) if trace.name == "V4")
    # V4's R wave rises above its row into the paper added above it; it is drawn whole, not clipped at its row.
    assert max(v4.y) - min(v4.y) > 4.5 * gain_mm_mv
    assert _paper_mm(tall)[1] > _paper_mm(plot_ecg(_record(), gain_mm_mv=gain_mm_mv))[1]


def test_no_bundled_case_is_cut_off():
    from ecgreview.examples import DEMO_CASES_DIR, demo_ecg_path
    from ecgreview.io import list_case_files, read_ecg

    files = [*list_case_files(DEMO_CASES_DIR), demo_ecg_path()]
    assert len(files) == 21
    for path in files:
        record = read_ecg(path)
        for start_s in page_starts_s(record.duration_s):
            for layout in LAYOUTS:
                assert _outside_paper(plot_ecg(record, layout=layout, start_s=start_s)) == [], (path.name, layout)


def test_a_longer_recording_is_shown_whole_in_pages():
    record = _record(15.0)
    assert page_starts_s(record.duration_s) == (0.0, 5.0)
    assert page_starts_s(11.9) == pytest.approx((0.0, 1.9)) and page_starts_s(8.0) == (0.0,)
    shown = set()
    for start_s in page_starts_s(record.duration_s):
        figure = plot_ecg(record, start_s=start_s)
        strip = _lead_traces(figure)[-1]  # the lead II rhythm strip
        first_s = (np.asarray(strip.x)[0] - figure.data[0].x[-1]) / 25.0 + start_s
        assert first_s == pytest.approx(start_s, abs=0.01)
        assert np.ptp(np.asarray(strip.x)) == pytest.approx(10.0 * 25.0, abs=0.5)  # every page is 10 s
        shown.add(f"{start_s:g}–{start_s + 10:g} s of 15 s")
        assert f"{start_s:g}–{start_s + 10:g} s of 15 s" in figure.layout.annotations[-1].text
    assert len(shown) == 2
    lead = plot_lead(record, "II", start_s=5.0, marks_s=(12.0,))
    calipers = _lead_traces(lead)[1]
    assert calipers.customdata[0, 0] == pytest.approx(5.0)
    assert calipers.customdata[-1, 0] == pytest.approx(15.0, abs=0.01)
    with pytest.raises(ValueError, match=r"start_s must be in \[0, 15\) s"):
        plot_ecg(record, start_s=15.0)


def test_median_beats_side_by_side():
    record = _record()
    figure = plot_median_beats(record.median_beats)
    assert len(_lead_traces(figure)) == 12
    assert "median beats" in figure.layout.annotations[-1].text
    assert set(LAYOUTS) == {"3x4+II", "6x2", "12x1"}


def test_display_filters_work_on_a_copy():
    record = _record()
    original = record.signal_mv.copy()
    assert filter_for_display(record, DisplayFilters()) is record
    filtered = filter_for_display(record, DisplayFilters(highpass_hz=0.5, notch_hz=50.0, lowpass_hz=40.0))
    np.testing.assert_array_equal(record.signal_mv, original)  # never touches what the model sees
    lead = filtered.lead("I")
    spectrum = np.abs(np.fft.rfft(lead - lead.mean()))
    frequencies = np.fft.rfftfreq(lead.size, 1 / RATE_HZ)
    raw_spectrum = np.abs(np.fft.rfft(record.lead("I") - record.lead("I").mean()))
    at = lambda hz: int(np.argmin(np.abs(frequencies - hz)))  # noqa: E731
    assert spectrum[at(50.0)] < 0.02 * raw_spectrum[at(50.0)]
    assert spectrum[at(0.1)] < 0.1 * raw_spectrum[at(0.1)]
    assert filtered.signal_mv.dtype == np.float32


def test_filter_description_is_shown_on_the_trace():
    assert DisplayFilters().describe() == "display filters off"
    text = DisplayFilters(highpass_hz=0.5, notch_hz=60.0).describe()
    assert "high-pass 0.5 Hz, notch 60 Hz" in text and "display only" in text
    with pytest.raises(ValueError, match="notch_hz must be positive"):
        filter_for_display(_record(), DisplayFilters(notch_hz=-50.0))


def test_the_site_sets_the_screens_pixels_per_mm(tmp_path):
    from ecgreview.config import Settings
    from ecgreview.errors import ConfigError
    from ecgreview.plots import CSS_PIXELS_PER_MM

    home = {"ECGREVIEW_HOME": str(tmp_path)}
    assert Settings.from_env(home).screen_px_per_mm is None  # uncalibrated: the viewer uses CSS's 96 dpi
    assert CSS_PIXELS_PER_MM == pytest.approx(3.7795, abs=1e-4)
    assert Settings.from_env(home | {"ECGREVIEW_SCREEN_PX_PER_MM": "4.25"}).screen_px_per_mm == 4.25
    (tmp_path / "config.toml").write_text('screen_px_per_mm = "5.1"\n', encoding="utf-8")
    assert Settings.from_env(home).screen_px_per_mm == 5.1
    for text in ("0", "abc", "400"):
        with pytest.raises(ConfigError, match="SCREEN_PX_PER_MM: screen_px_per_mm must be a number from 1 to 40"):
            Settings.from_env(home | {"ECGREVIEW_SCREEN_PX_PER_MM": text})
