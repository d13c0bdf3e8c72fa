"""``python -m ecgreview model install|status``: install the weights, and say which the app uses."""

from __future__ import annotations

import argparse
from pathlib import Path

from ecgreview.cli._output import ProgressBar
from ecgreview.config import Settings


def _model_status(args: argparse.Namespace) -> int:
    from ecgreview.model.network import identify_weights
    from ecgreview.model.serving import find_model

    path = find_model(Settings.from_env())
    if path is None:
        if not args.quiet:
            print("no model weights installed; run: python -m ecgreview model install [model.zip|model.hdf5|URL]")
        return 1
    if not args.quiet:
        identity = identify_weights(path)
        print(f"{path}\n  {identity.label}\n  sha256 {identity.sha256}\n  git blob sha1 {identity.git_blob_sha1}")
    return 0


def _model_install(args: argparse.Namespace) -> int:
    from ecgreview.model.weights import ZENODO_MODEL_URL, install_weights

    settings = Settings.from_env()
    models_dir = Path(args.models_dir) if args.models_dir else settings.models_dir
    bar = ProgressBar()

    def progress(received: int, total: int | None) -> None:
        mib = 2**20
        bar(received // mib, (total or received) // mib, "MiB downloaded")

    try:
        installed = install_weights(args.source or ZENODO_MODEL_URL, models_dir,
                                    allow_unverified=args.allow_unverified, progress=progress)
    finally:
        bar.close()
    print(f"installed {installed}")
    _say_what_the_app_uses(installed)
    backend = Settings.from_env().backend
    if backend != "tensorflow":
        from ecgreview.model.serving import load_inference_model

        print("preparing the serving backend (one-off conversion for ONNX Runtime)…")
        model = load_inference_model(installed, backend=backend)
        print(f"ready: {model.provenance['backend']}")
    return 0


def _say_what_the_app_uses(installed: Path) -> None:
    """Print a note when the app would not use the weights just installed (another folder, ECGREVIEW_MODEL)."""
    from ecgreview.errors import EcgReviewError
    from ecgreview.model.serving import installed_models

    settings = Settings.from_env()
    try:
        used = installed_models(settings)
    except EcgReviewError as exc:
        print(f"note: the app cannot use any weights yet: {exc}")
        return
    if used and used[0].resolve() == installed.resolve():
        return
    if settings.model_path is not None:
        print(f"note: the app uses ECGREVIEW_MODEL={settings.model_path}, not these weights; unset it to use them")
    elif installed.resolve() not in {path.resolve() for path in used}:
        print(f"note: the app looks for weights in {settings.models_dir} (ECGREVIEW_MODELS_DIR), not here")
    else:
        print(f"note: the app prefers {used[0]} (verified weights first)")


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``model install`` and ``model status`` to the CLI's subcommands."""
    model = commands.add_parser("model", help="install and inspect model weights").add_subparsers(dest="model_command", required=True)
    install = model.add_parser("install", help="install weights from model.zip, model.hdf5 or a URL (default: the Zenodo release)")
    install.add_argument("source", nargs="?", help="local model.zip / model.hdf5, or an http(s) URL")
    install.add_argument("--models-dir", help="install here instead of the configured models folder")
    install.add_argument("--allow-unverified", action="store_true",
                         help="install a model.hdf5 that is not the published release (shown as unverified)")
    install.set_defaults(handler=_model_install)
    status = model.add_parser("status", help="which weights the app would use, and whether they are verified")
    status.add_argument("--quiet", action="store_true", help="print nothing; exit 0 when weights are installed")
    status.set_defaults(handler=_model_status)
