"""reproduce-paper and compare-predictions on the Ribeiro et al. 2020 reference data.

Expected values are read from ``../shared/ribeiro`` at test time, never copied in.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from ecgreview.cli.reproduce import compare_predictions_main, reproduce_paper_main
from ecgreview.errors import EcgReviewError
from ecgreview.record import CLASSES, THRESHOLDS
from ecgreview.study.compare import load_probabilities
from ecgreview.study.reproduce import (
    BUNDLED_RIBEIRO_DIR,
    compare_predictions,
    reproduce_paper,
)

SCORE_FIELDS = {"Precision": "precision", "Recall": "sensitivity", "Specificity": "specificity",
                "F1 score": "f1"}


def _labels(path: Path) -> np.ndarray:
    return pd.read_csv(path)[list(CLASSES)].to_numpy()


def _f1(gold: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    true_positives = ((gold == 1) & (predicted == 1)).sum(axis=0)
    errors = (gold != predicted).sum(axis=0)
    return 2 * true_positives / (2 * true_positives + errors)


@pytest.fixture(scope="module")
def reproduction(ribeiro_dir):
    return reproduce_paper(ribeiro_dir)


def test_reproduce_paper_is_ok(reproduction):
    assert reproduction.differences == ()
    assert reproduction.ok


def test_recomputed_scores_equal_published_csv(reproduction, ribeiro_dir):
    published = pd.read_csv(ribeiro_dir / "tables" / "scores.csv", header=[0, 1], index_col=0)
    recomputed = reproduction.recomputed["scores.csv"]
    assert published.size == 4 * 4 * len(CLASSES)
    for (metric, predictor) in published.columns:
        for name in CLASSES:
            assert round(recomputed.at[name, (metric, predictor)], 3) == pytest.approx(
                published.at[name, (metric, predictor)], abs=1e-9), (metric, predictor, name)


@pytest.mark.parametrize("table", ["kappa.csv", "kappas_annotators_and_DNN.csv", "mcnemar.csv"])
def test_recomputed_pairwise_tables_equal_published_csv(reproduction, ribeiro_dir, table):
    published = pd.read_csv(ribeiro_dir / "tables" / table, index_col=0)
    recomputed = reproduction.recomputed[table]
    assert list(recomputed.index) == list(published.index)
    np.testing.assert_allclose(recomputed[list(CLASSES)].round(3), published[list(CLASSES)], atol=1e-9)


def test_model_1_matches_published_dnn_labels(ribeiro_dir, reproduction):
    probabilities = np.load(ribeiro_dir / "dnn_predicts" / "other_seeds" / "model_1.npy")
    published = pd.read_csv(ribeiro_dir / "annotations" / "dnn.csv", index_col=0).to_numpy()
    assert ((probabilities > np.asarray(THRESHOLDS)).astype(int) == published).all()
    assert "other_seeds/model_1.npy" in reproduction.reproducing_files


def test_released_model_gives_other_f1(ribeiro_dir, reproduction):
    gold = _labels(ribeiro_dir / "annotations" / "gold_standard.csv")
    released = (np.load(ribeiro_dir / "dnn_predicts" / "model.npy") > np.asarray(THRESHOLDS)).astype(int)
    paper_f1 = pd.read_csv(ribeiro_dir / "tables" / "scores.csv", header=[0, 1], index_col=0)[("F1 score", "DNN")]
    assert (np.round(_f1(gold, released), 3) != paper_f1.to_numpy()).any()
    candidate = next(c for c in reproduction.candidates if c.name == "model.npy")
    assert not candidate.reproduces and candidate.label_mismatches > 0
    np.testing.assert_allclose(candidate.scores["F1 score"], _f1(gold, released))
    side_by_side = reproduction.released_model_comparison()
    assert side_by_side[("F1 score", "paper")].astype(float).tolist() == paper_f1.tolist()


def test_format_text_reports_tables_and_verdict(reproduction):
    text = reproduction.format_text()
    assert "tables/scores.csv: 96 values compared at the published rounding: all match" in text
    assert "Reproduced by: other_seeds/model_1.npy" in text
    assert "The released weights (model.npy) do not reproduce the paper" in text
    released = next(c for c in reproduction.candidates if c.name == "model.npy")
    identical = [c.name for c in reproduction.candidates
                 if c is not released and c.sha256 == released.sha256]
    assert identical
    for name in identical:  # upstream ships a seed file byte-identical to the released model
        assert (reproduction.ribeiro_dir / "dnn_predicts" / name).read_bytes() == (
            reproduction.ribeiro_dir / "dnn_predicts" / "model.npy").read_bytes()
    assert text.rstrip().endswith("Result: REPRODUCED")


def _doctored_copy(ribeiro_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "ribeiro"
    shutil.copytree(ribeiro_dir, copy)
    scores = copy / "tables" / "scores.csv"
    scores.chmod(0o644)
    lines = scores.read_text().splitlines()
    cells = lines[2].split(",")
    cells[1] = f"{float(cells[1]) - 0.01:.3f}"  # 1dAVb, Precision, DNN
    lines[2] = ",".join(cells)
    scores.write_text("\n".join(lines) + "\n")
    return copy


def test_doctored_table_is_a_difference(ribeiro_dir, tmp_path):
    result = reproduce_paper(_doctored_copy(ribeiro_dir, tmp_path))
    assert not result.ok
    assert [(d.table, d.row, d.column) for d in result.differences] == [("scores.csv", "1dAVb", "Precision / DNN")]


def test_reproduce_paper_main_exit_codes(ribeiro_dir, tmp_path, capsys):
    out = io.StringIO()
    assert reproduce_paper_main(ribeiro_dir, out=out) == 0
    assert "Result: REPRODUCED" in out.getvalue()
    doctored = io.StringIO()
    assert reproduce_paper_main(_doctored_copy(ribeiro_dir, tmp_path), out=doctored) == 1
    assert "Result: DIFFERENCES (1 published values not reproduced)" in doctored.getvalue()
    missing = tmp_path / "nowhere"
    assert reproduce_paper_main(missing, out=io.StringIO()) == 2
    assert capsys.readouterr().err.startswith(f"{missing}: not a folder")


def test_reproduce_paper_main_missing_file(ribeiro_dir, tmp_path, capsys):
    copy = tmp_path / "ribeiro"
    shutil.copytree(ribeiro_dir, copy)
    (copy / "annotations" / "gold_standard.csv").unlink()
    assert reproduce_paper_main(copy, out=io.StringIO()) == 2
    assert capsys.readouterr().err.strip() == f"{copy / 'annotations' / 'gold_standard.csv'}: missing annotation file"


def test_reproduce_paper_main_defaults_to_bundled_data():
    out = io.StringIO()
    assert reproduce_paper_main(None, out=out) == 0
    assert str(BUNDLED_RIBEIRO_DIR) in out.getvalue()


def test_bundled_data_is_identical_to_shared(ribeiro_dir):
    bundled = {path.relative_to(BUNDLED_RIBEIRO_DIR) for path in BUNDLED_RIBEIRO_DIR.rglob("*") if path.is_file()}
    bundled.discard(Path("ATTRIBUTION.md"))
    wanted = {path.relative_to(ribeiro_dir) for pattern in (
        "annotations/*.csv", "dnn_predicts/model.npy", "dnn_predicts/other_seeds/model_*.npy",
        "tables/*.csv") for path in ribeiro_dir.glob(pattern)}
    assert bundled == wanted
    for relative in sorted(bundled):
        assert (BUNDLED_RIBEIRO_DIR / relative).read_bytes() == (ribeiro_dir / relative).read_bytes(), relative
    assert sum((BUNDLED_RIBEIRO_DIR / path).stat().st_size for path in bundled) < 1_000_000


@pytest.mark.parametrize("other", ["reproductions/tarilabs_output.csv", "reproductions/ai-atl-ecg_model.npy"])
def test_compare_independent_reruns(ribeiro_dir, other):
    reference = np.load(ribeiro_dir / "dnn_predicts" / "model.npy").astype(np.float64)
    path = ribeiro_dir / other
    rerun = np.loadtxt(path, delimiter=",") if path.suffix == ".csv" else np.load(path).astype(np.float64)
    expected_differing = int((reference != rerun).sum())
    comparison = compare_predictions(ribeiro_dir / "dnn_predicts" / "model.npy", path)
    assert comparison.n_values == reference.size
    assert comparison.n_differing == expected_differing > 0
    assert comparison.max_abs_difference == pytest.approx(np.abs(reference - rerun).max())
    assert 0 < comparison.max_abs_difference < 1e-6
    assert comparison.n_flips == 0
    per_class = comparison.per_class()
    assert per_class.loc["all", "differing"] == expected_differing
    assert per_class.loc[list(CLASSES), "differing"].sum() == expected_differing
    assert f"Differing values: {expected_differing} of {reference.size}" in comparison.format_text()
    assert comparison.compared_as == "float32"


def _batch_csv(path: Path, probabilities: np.ndarray) -> Path:
    table = pd.DataFrame(probabilities, columns=[f"prob_{name}" for name in CLASSES])
    table.insert(0, "record_id", [f"ecg{index}" for index in range(len(table))])
    table["model_sha256"] = "ab" * 32
    table["framework"] = "tensorflow 2.21.0"
    table.to_csv(path, index=False, float_format="%.9g")
    return path


def test_compare_batch_scoring_csv_with_provenance(ribeiro_dir, tmp_path):
    reference = ribeiro_dir / "dnn_predicts" / "model.npy"
    probabilities = np.load(reference)
    batch = _batch_csv(tmp_path / "batch.csv", probabilities)
    comparison = compare_predictions(reference, batch)
    assert comparison.n_differing == 0 and comparison.n_flips == 0
    assert comparison.median_abs_difference_differing is None
    assert comparison.other.provenance["model_sha256"] == "ab" * 32
    assert comparison.other.provenance["framework"] == "tensorflow 2.21.0"
    assert comparison.other.provenance["format"] == "batch-scoring CSV"
    assert "record_id" not in comparison.other.provenance
    assert comparison.reference.provenance["format"] == "npy float32"
    assert "framework=tensorflow 2.21.0" in comparison.format_text()


def test_batch_csv_reports_mixed_provenance(ribeiro_dir, tmp_path):
    probabilities = np.load(ribeiro_dir / "dnn_predicts" / "model.npy")
    batch = _batch_csv(tmp_path / "batch.csv", probabilities)
    table = pd.read_csv(batch)
    table.loc[0, "framework"] = "tensorflow 2.15.0, keras 2.15.0"
    table.to_csv(batch, index=False)
    assert load_probabilities(batch).provenance["framework"] == "mixed (2 values)"


def test_compare_counts_flips(tmp_path):
    rng = np.random.default_rng(3)
    reference = rng.random((10, len(CLASSES))).astype(np.float32)
    np.save(tmp_path / "a.npy", reference)
    moved = reference.copy()
    moved[0, 4] = THRESHOLDS[4] + 0.01  # above the AF threshold
    moved[1, 4] = THRESHOLDS[4] - 0.01  # below it
    np.save(tmp_path / "b.npy", moved)
    expected = int(((reference > np.asarray(THRESHOLDS)) != (moved > np.asarray(THRESHOLDS))).sum())
    comparison = compare_predictions(tmp_path / "a.npy", tmp_path / "b.npy")
    assert comparison.n_flips == expected
    assert comparison.per_class().loc["AF", "flips"] == expected
    assert compare_predictions_main(tmp_path / "a.npy", tmp_path / "b.npy", out=io.StringIO()) == (
        1 if expected else 0)


def test_compare_rejects_bad_inputs(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((5, 6), dtype=np.float32))
    np.save(tmp_path / "short.npy", np.zeros((4, 6), dtype=np.float32))
    np.save(tmp_path / "five.npy", np.zeros((5, 5), dtype=np.float32))
    (tmp_path / "cols.csv").write_text("x,y\n1,2\n")
    with pytest.raises(EcgReviewError, match=r"short.npy: shape \(4, 6\) does not match a.npy \(5, 6\)"):
        compare_predictions(tmp_path / "a.npy", tmp_path / "short.npy")
    with pytest.raises(EcgReviewError, match=r"five.npy: expected probabilities of shape \(N, 6\)"):
        load_probabilities(tmp_path / "five.npy")
    with pytest.raises(EcgReviewError, match=r"cols.csv: expected columns \['prob_1dAVb'"):
        load_probabilities(tmp_path / "cols.csv")
    with pytest.raises(EcgReviewError, match="missing.npy: no such file"):
        load_probabilities(tmp_path / "missing.npy")


def test_compare_predictions_main_writes_report(ribeiro_dir, tmp_path, capsys):
    out = io.StringIO()
    code = compare_predictions_main(ribeiro_dir / "dnn_predicts" / "model.npy",
                                    ribeiro_dir / "reproductions" / "tarilabs_output.csv",
                                    out_dir=tmp_path / "report", out=out)
    assert code == 0
    report = tmp_path / "report"
    assert (report / "comparison.txt").read_text() in out.getvalue()
    table = pd.read_csv(report / "comparison.csv", index_col=0)
    assert list(table.index) == [*CLASSES, "all"]
    assert table.loc["all", "flips"] == 0
    html = (report / "comparison.html").read_text()
    assert '<script src="https://cdn' not in html and "Plotly.newPlot" in html
    assert len(html) > 1_000_000  # plotly.js is embedded: the file opens offline
    assert compare_predictions_main(tmp_path / "none.npy", tmp_path / "none.npy", out=io.StringIO()) == 2
    assert capsys.readouterr().err.strip() == f"{tmp_path / 'none.npy'}: no such file"


def test_figure_is_a_plotly_histogram(ribeiro_dir):
    comparison = compare_predictions(ribeiro_dir / "dnn_predicts" / "model.npy",
                                     ribeiro_dir / "reproductions" / "ai-atl-ecg_model.npy")
    figure = comparison.figure()
    assert isinstance(figure, go.Figure)
    assert [trace.name for trace in figure.data] == list(CLASSES)
    assert sum(len(trace.x) for trace in figure.data) == comparison.n_differing
