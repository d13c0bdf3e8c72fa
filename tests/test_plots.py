"""Plots: layouts, single-lead zoom, median beats, display filters on a copy only."""

from __future__ import annotations

import numpy as np
import pytest

from ecgreview.plots import LAYOUTS, DisplayFilters, filter_for_display, plot_ecg, plot_lead, plot_median_beats
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
    figure = plot_ecg(record, layout=layout, speed_mm_s=50, gain_mm_mv=20, width_px=760, note="display filters off")
    leads = _lead_traces(figure)
    assert len(leads) == traces
    assert all(lead.customdata is None for lead in leads)  # no per-point customdata is sent to the browser
    # Decimated to the pixels: at most two points per pixel column (plus the ends), far fewer than the samples ...
    assert all(len(lead.x) <= 2 * 760 + 2 for lead in leads)
    assert sum(len(lead.x) for lead in leads) < record.signal_mv.shape[0] * traces / 2
    # ... yet every 1 mV beat peak (gain 20 mm/mV) is still drawn.
    baseline = np.asarray(leads[0].y).min()
    assert np.asarray(leads[0].y).max() - baseline > 0.9 * 20
    assert "50 mm/s · 20 mm/mV" in figure.layout.annotations[-1].text
    assert "display filters off" in figure.layout.annotations[-1].text


def test_unknown_layout_and_lead_are_refused():
    with pytest.raises(ValueError, match="layout must be one of"):
        plot_ecg(_record(), layout="4x3")
    with pytest.raises(ValueError, match="lead must be one of"):
        plot_lead(_record(), "V7")
    with pytest.raises(ValueError, match="gain_mm_mv must be positive"):
        plot_ecg(_record(), gain_mm_mv=0)


def test_single_lead_zoom_shows_the_whole_window():
    figure = plot_lead(_record(), "V2", marks_s=(1.0, 1.5))
    trace, calipers = _lead_traces(figure)
    assert trace.name == "V2" and len(trace.x) == int(10.0 * RATE_HZ)  # full resolution for calipers
    assert trace.customdata is None  # only the caliper markers carry the time
    assert calipers.customdata[-1, 0] == pytest.approx(10.0 - 2 / RATE_HZ, abs=1e-4)
    assert calipers.name == "calipers" and calipers.mode == "markers"
    assert calipers.customdata[1, 0] == pytest.approx(2 / RATE_HZ, abs=1e-5)  # 250 Hz clickable points
    lines = [shape for shape in figure.layout.shapes if shape.line.dash == "dash"]
    assert [shape.x0 for shape in lines] == pytest.approx([trace.x[500], trace.x[750]])


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
