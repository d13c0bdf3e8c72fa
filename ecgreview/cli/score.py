"""``python -m ecgreview score FOLDER_OR_FILES --out predictions.csv``: batch scoring, with a progress bar."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ecgreview.cli._arguments import positive_int
from ecgreview.cli._output import ProgressBar
from ecgreview.model.batch import ENGINES, score_ecgs
from ecgreview.model.serving import BACKENDS


def load_model_for_command(args: Any) -> Any:
    """The weights of ``--model`` (else the configured or installed ones) through ``--backend``."""
    from ecgreview.config import Settings
    from ecgreview.errors import ModelError
    from ecgreview.model.serving import find_model, load_inference_model

    settings = Settings.from_env()
    path = Path(args.model) if args.model else find_model(settings)
    if path is None:
        raise ModelError(None, "no model weights installed; run: python -m ecgreview model install")
    return load_inference_model(path, backend=args.backend or settings.backend)


def _score_main(args: Any) -> int:
    from ecgreview.config import Settings

    model = load_model_for_command(args)
    bar = ProgressBar(enabled=not args.no_progress)

    def progress(done: int, total: int, scored: int, failed: int) -> None:
        bar(done, total, f"files, {scored} scored, {failed} failed, {scored / bar.elapsed_s():.1f} ECG/s")

    try:
        summary = score_ecgs(args.inputs, model=model, out_csv=args.out, errors_csv=args.errors,
                             batch_size=args.batch_size, progress=progress, engine=args.engine,
                             thresholds=Settings.from_env().thresholds,
                             scheduler_address=args.scheduler, padding=args.padding)
    finally:
        bar.close()
    print(f"{summary.scored} scored, {summary.skipped} already scored, {summary.failed} failed "
          f"of {summary.files} files in {summary.elapsed_s:.1f} s ({summary.ecgs_per_s:.1f} ECG/s)\n"
          f"predictions: {summary.out_csv}" + (f"\nerrors: {summary.errors_csv}" if summary.failed else ""))
    return 1 if summary.failed else 0


def register(subparsers: Any) -> None:
    """Add the ``score`` subcommand to the CLI's argparse ``subparsers``.

    Exit codes: 0 all scored, 1 some files failed (listed in the errors CSV), 2 bad input.
    """
    score = subparsers.add_parser("score", help="score a folder or files of ECGs into a predictions CSV (resumable)")
    score.add_argument("inputs", nargs="+", help="folders (scored recursively) and/or ECG files")
    score.add_argument("--out", required=True, help="predictions CSV (appended to; ECGs already there are skipped)")
    score.add_argument("--errors", help="CSV of files that failed (default: <out>.errors.csv)")
    score.add_argument("--batch-size", type=positive_int, default=32, help="ECGs per model call (default 32)")
    score.add_argument("--backend", choices=BACKENDS, default=None,
                       help="auto (ONNX Runtime when installed), tensorflow (traced tf.function) or onnx; "
                            "default: ECGREVIEW_BACKEND, else auto")
    score.add_argument("--model", help="weights file (default: the configured or installed one)")
    score.add_argument("--engine", choices=ENGINES, default="local", help="local (default) or dask")
    score.add_argument("--scheduler", help="Dask scheduler address (default: a local cluster)")
    score.add_argument("--no-progress", action="store_true", help="no progress bar")
    score.add_argument("--padding", choices=("centre", "end"), default="centre",
                       help="zero padding to 4096 samples: centre (default, upstream) or end (the pilot)")
    score.set_defaults(handler=_score_main)
