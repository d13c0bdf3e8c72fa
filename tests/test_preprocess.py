import numpy as np
import pytest

from ecgreview.errors import PreprocessError
from ecgreview.preprocess import fit_length, preprocess_ecg, resample_ecg, resampling_factors
from ecgreview.record import LEAD_ORDER, EcgRecord


def _sine_record(frequency_hz: float, rate_hz: float, seconds: float, amplitude_mv: float = 1.0) -> EcgRecord:
    t = np.arange(int(round(rate_hz * seconds))) / rate_hz
    wave = amplitude_mv * np.sin(2 * np.pi * frequency_hz * t)
    signal = np.repeat(wave[:, None], 12, axis=1).astype(np.float32)
    return EcgRecord(signal_mv=signal, sampling_rate_hz=rate_hz, lead_names=LEAD_ORDER, source_name="sine")


@pytest.mark.parametrize(("from_hz", "expected"), [(500, (4, 5)), (1000, (2, 5)), (400, (1, 1)), (257, (400, 257)), (128.5, (800, 257))])
def test_resampling_factors_are_exact(from_hz, expected):
    up, down = resampling_factors(from_hz, 400)
    assert (up, down) == expected
    assert from_hz * up / down == pytest.approx(400, abs=0)


@pytest.mark.parametrize("from_hz", [500, 1000, 257])
def test_resampled_sine_keeps_frequency_and_amplitude(from_hz):
    record = resample_ecg(_sine_record(5.0, from_hz, 10.0, amplitude_mv=1.5))
    assert record.sampling_rate_hz == 400
    lead = record.signal_mv[400:-400, 0].astype(np.float64)  # ignore filter edges
    spectrum = np.abs(np.fft.rfft(lead * np.hanning(lead.size)))
    peak_hz = np.fft.rfftfreq(lead.size, 1 / 400)[np.argmax(spectrum)]
    assert peak_hz == pytest.approx(5.0, abs=0.05)
    assert np.max(np.abs(lead)) == pytest.approx(1.5, rel=0.01)
    assert record.signal_mv.shape[0] == 4000


def test_short_record_is_centred_with_equal_zeros():
    record = _sine_record(1.0, 400, 7.0)
    record = record.replace(signal_mv=record.signal_mv + 2.0)  # no genuine zero samples
    out = preprocess_ecg(record)
    nonzero = np.flatnonzero(np.any(out != 0, axis=1))
    before, after = nonzero[0], out.shape[0] - 1 - nonzero[-1]
    assert out.shape == (4096, 12)
    assert before == after == (4096 - 2800) // 2


def test_long_record_is_cut_in_the_centre():
    signal = np.arange(5000, dtype=np.float32)[:, None].repeat(12, axis=1)
    out = fit_length(signal)
    assert out.shape == (4096, 12)
    assert out[0, 0] == (5000 - 4096) // 2
    assert out[-1, 0] == (5000 - 4096) // 2 + 4095


def test_leads_are_reordered_to_model_order():
    names = tuple(reversed(LEAD_ORDER))
    signal = np.tile(np.arange(12, dtype=np.float32)[None, :], (4096, 1))  # column k holds value k
    out = preprocess_ecg(EcgRecord(signal_mv=signal, sampling_rate_hz=400, lead_names=names))
    expected = [names.index(name) for name in LEAD_ORDER]
    np.testing.assert_array_equal(out[100], np.array(expected, dtype=np.float32))


def test_missing_lead_is_named():
    record = _sine_record(1.0, 400, 10.0)
    record = record.replace(signal_mv=record.signal_mv[:, :11], lead_names=LEAD_ORDER[:11], source_name="x.dcm")
    with pytest.raises(PreprocessError, match=r"x\.dcm: missing leads V6 \(found I, II"):
        preprocess_ecg(record)


def test_non_finite_signal_is_refused():
    record = _sine_record(1.0, 400, 10.0)
    signal = record.signal_mv.copy()
    signal[10, 3] = np.nan
    with pytest.raises(PreprocessError, match="NaN"):
        preprocess_ecg(record.replace(signal_mv=signal))


def test_pydicom_demo_ecg_becomes_model_input():
    from ecgreview.examples import demo_ecg_path
    from ecgreview.io import read_ecg

    record = read_ecg(demo_ecg_path())
    assert record.sampling_rate_hz == 1000 and record.duration_s == pytest.approx(10.0)
    out = preprocess_ecg(record)
    assert out.shape == (4096, 12) and out.dtype == np.float32
    # Amplitudes in mV: a resting ECG's QRS is a few tenths to a few mV, never hundreds.
    peak_to_peak = out.max(axis=0) - out.min(axis=0)
    assert np.all(peak_to_peak < 10) and np.median(peak_to_peak) > 0.3
    # 10 s at 400 Hz = 4000 samples, centred: 48 zeros each side.
    assert np.all(out[:48] == 0) and np.all(out[-48:] == 0) and np.any(out[48] != 0)
