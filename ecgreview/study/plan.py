"""The analysis plan of a reader study: fixed before any reading, stored in the design file.

An :class:`AnalysisPlan` records what the added-value analysis will be, before the first
reading exists (issue #19, a pre-specified statistical analysis plan):

* the **primary endpoints**: the classes and the figure(s) of merit (sensitivity,
  specificity) whose aided − unaided difference the study is about; every other class and
  figure is secondary;
* the **reference standard** (``consensus``, ``reader:<name>`` or ``clinical``, a
  clinical-diagnosis CSV given at analysis time) and a description of it;
* how a ``possible`` device statement and an ``uncertain`` reader call count;
* the DNN **thresholds** shown to the readers and the zero **padding** of the model input;
* the **analysis**: Obuchowski–Rockette–Hillis with random or fixed readers and cases, the
  covariance method, the confidence level, and the secondary percentile bootstrap
  (resamples, seed).

:func:`analysis_runs` turns a plan and the choices asked for at analysis time into the runs to
make: the pre-specified one, and a *sensitivity analysis* labelled as such where a choice
differs; never the other choice in the plan's place. A design without a plan (files written
before plans existed, or designs made without one) gives one run labelled exploratory.

A plan is frozen: :func:`ecgreview.study.progress.replace_plan` refuses to change it once a
reading of the study exists.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ecgreview.preprocess import PADDING_MODES
from ecgreview.record import CLASSES, THRESHOLDS
from ecgreview.study.mrmc import ANALYSES, COVARIANCE_METHODS

__all__ = ["AnalysisChoices", "AnalysisPlan", "AnalysisRun", "EXPLORATORY", "PLAN_FIGURES_OF_MERIT",
           "PRE_SPECIFIED", "REFERENCE_KINDS", "UNCERTAIN_OPTIONS", "analysis_runs", "plan_from_document",
           "requested_choices"]

#: Figures of merit of a plan's endpoints (reader calls are binary).
PLAN_FIGURES_OF_MERIT: tuple[str, ...] = ("sensitivity", "specificity")
#: How an ``uncertain`` reader call counts: as absent, as present, or left out (the pair, per class).
UNCERTAIN_OPTIONS: tuple[str, ...] = ("absent", "present", "exclude")
#: Reference standards: the readers' consensus, one reader (``reader:<name>``), a clinical-diagnosis CSV.
REFERENCE_KINDS: tuple[str, ...] = ("consensus", "reader:<name>", "clinical")
PRE_SPECIFIED = "pre-specified analysis"
EXPLORATORY = "exploratory analysis (no pre-specified plan)"
_MAX_TEXT = 2000


@dataclass(frozen=True)
class AnalysisChoices:
    """The choices of one analysis run.

    ``reference`` is ``"consensus"``, ``"reader:<name>"`` or the path of a clinical-diagnosis CSV.
    """

    reference: str | Path
    possible_counts_as_positive: bool = True
    uncertain_as: str = "absent"


@dataclass(frozen=True)
class AnalysisRun:
    """One run of the added-value analysis: its ``label`` (pre-specified, sensitivity, exploratory)
    and its ``choices``; ``primary`` only for the pre-specified run."""

    label: str
    choices: AnalysisChoices
    primary: bool


@dataclass(frozen=True)
class AnalysisPlan:
    """A study's pre-specified analysis. Construction validates every field (ValueError naming it).

    Attributes
    ----------
    primary_classes : tuple of str
        Classes of the primary endpoints (subset of :data:`~ecgreview.record.CLASSES`).
    figures_of_merit : tuple of str
        Figures of merit of the primary endpoints, from :data:`PLAN_FIGURES_OF_MERIT`.
    reference_standard : str
        ``"consensus"``, ``"reader:<name>"`` or ``"clinical"`` (the CSV is given at analysis time).
    reference_description : str
        Who or what sets the reference, in words (e.g. "discharge diagnosis, two cardiologists").
    possible_counts_as_positive : bool
        Whether a ``possible`` device statement is a positive built-in call.
    uncertain_as : str
        How an ``uncertain`` reader call counts (:data:`UNCERTAIN_OPTIONS`).
    thresholds : tuple of float
        The DNN decision thresholds the readers are shown, in ``CLASSES`` order.
    padding : str
        Zero padding of the model input to 4096 samples (``centre`` or ``end``).
    readers_factor, cases_factor : str
        ``"random"`` or ``"fixed"``: the OR–Hillis analysis of the primary endpoints.
    covariance_method : str
        ``"jackknife"`` (the only one for sensitivity and specificity).
    confidence : float
        Coverage of every interval, in (0, 1).
    bootstrap_resamples, bootstrap_seed : int
        The secondary percentile bootstrap.
    frozen_at_utc : str
        When the plan was recorded (ISO-8601 UTC), before any reading.
    """

    primary_classes: tuple[str, ...]
    figures_of_merit: tuple[str, ...] = PLAN_FIGURES_OF_MERIT
    reference_standard: str = "consensus"
    reference_description: str = ""
    possible_counts_as_positive: bool = True
    uncertain_as: str = "absent"
    thresholds: tuple[float, ...] = THRESHOLDS
    padding: str = "centre"
    readers_factor: str = "random"
    cases_factor: str = "random"
    covariance_method: str = "jackknife"
    confidence: float = 0.95
    bootstrap_resamples: int = 2000
    bootstrap_seed: int = 0
    frozen_at_utc: str = field(default="")

    def __post_init__(self) -> None:
        _check_endpoints(self.primary_classes, self.figures_of_merit)
        _check_reference(self.reference_standard, self.reference_description)
        _check_options(self)

    @property
    def primary_endpoints(self) -> tuple[tuple[str, str], ...]:
        """(class, figure of merit) of every primary endpoint, in ``CLASSES`` order."""
        return tuple((name, figure) for name in CLASSES if name in self.primary_classes
                     for figure in self.figures_of_merit)

    @property
    def analysis(self) -> str:
        """E.g. ``"random readers, random cases"``."""
        return f"{self.readers_factor} readers, {self.cases_factor} cases"

    @property
    def choices(self) -> AnalysisChoices:
        """The plan's choices (a ``clinical`` reference has no path here)."""
        return AnalysisChoices(self.reference_standard, self.possible_counts_as_positive, self.uncertain_as)

    def to_document(self) -> dict[str, object]:
        """The plan as a JSON-ready dict (see :func:`plan_from_document`)."""
        document = asdict(self)
        return {key: list(value) if isinstance(value, tuple) else value for key, value in document.items()}

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the plan's canonical JSON: any change to the plan changes it."""
        text = json.dumps(self.to_document(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def describe(self) -> list[str]:
        """The plan in words, one item per line (for reports and the Cohort page)."""
        endpoints = ", ".join(f"{name} {figure}" for name, figure in self.primary_endpoints)
        thresholds = ", ".join(f"{name} {value:g}" for name, value in zip(CLASSES, self.thresholds))
        reference = self.reference_standard + (f" ({self.reference_description})" if self.reference_description else "")
        return [f"Primary endpoints (aided − unaided): {endpoints}; every other class and figure is secondary; "
                f"{len(self.primary_endpoints)} endpoint(s), intervals not adjusted for multiplicity",
                f"Reference standard: {reference}",
                f"'possible' device statements count as {'positive' if self.possible_counts_as_positive else 'negative'}; "
                f"'uncertain' reader calls: {_uncertain_words(self.uncertain_as)}",
                f"DNN thresholds shown to the readers: {thresholds}; model input zero-padded at the {self.padding}",
                f"Figure of merit analysis: Obuchowski–Rockette–Hillis, {self.analysis}, {self.covariance_method} "
                f"covariance, {self.confidence * 100:g}% confidence; secondary: percentile bootstrap over readers "
                f"and cases, {self.bootstrap_resamples} resamples, seed {self.bootstrap_seed}",
                f"Frozen {self.frozen_at_utc or 'at creation'}; fingerprint sha256 {self.fingerprint[:16]}…"]


def _uncertain_words(option: str) -> str:
    return "left out (the reader-case pair, per class)" if option == "exclude" else f"counted as {option}"


def _check_endpoints(classes: Sequence[str], figures: Sequence[str]) -> None:
    if isinstance(classes, str) or not classes or any(name not in CLASSES for name in classes):
        raise ValueError(f"primary_classes must be one or more of {', '.join(CLASSES)}; got {classes!r}")
    if len(set(classes)) != len(classes):
        raise ValueError(f"primary_classes has a repeated class: {classes!r}")
    if isinstance(figures, str) or not figures or any(f not in PLAN_FIGURES_OF_MERIT for f in figures) \
            or len(set(figures)) != len(figures):
        raise ValueError(f"figures_of_merit must be one or both of {', '.join(PLAN_FIGURES_OF_MERIT)} (reader calls "
                         f"are binary); got {figures!r}")


def _check_reference(reference: str, description: str) -> None:
    valid = reference in ("consensus", "clinical") or (
        isinstance(reference, str) and reference.startswith("reader:") and reference.removeprefix("reader:").strip())
    if not valid:
        raise ValueError(f"reference_standard must be one of {', '.join(REFERENCE_KINDS)}; got {reference!r}")
    if not isinstance(description, str) or len(description) > _MAX_TEXT:
        raise ValueError(f"reference_description must be text of at most {_MAX_TEXT} characters")


def _check_options(plan: AnalysisPlan) -> None:
    checks: list[tuple[str, bool, str]] = [
        ("possible_counts_as_positive", isinstance(plan.possible_counts_as_positive, bool), "true or false"),
        ("uncertain_as", plan.uncertain_as in UNCERTAIN_OPTIONS, f"one of {', '.join(UNCERTAIN_OPTIONS)}"),
        ("thresholds", len(plan.thresholds) == len(CLASSES) and all(
            isinstance(t, (int, float)) and not isinstance(t, bool) and 0 <= t <= 1 for t in plan.thresholds),
         f"{len(CLASSES)} numbers in [0, 1], in {', '.join(CLASSES)} order"),
        ("padding", plan.padding in PADDING_MODES, f"one of {', '.join(PADDING_MODES)}"),
        ("readers_factor/cases_factor", (plan.readers_factor, plan.cases_factor) in ANALYSES,
         f"one of {', '.join('/'.join(pair) for pair in ANALYSES)}"),
        ("covariance_method", plan.covariance_method == COVARIANCE_METHODS[0],
         f"{COVARIANCE_METHODS[0]} (DeLong is for the AUC only)"),
        ("confidence", isinstance(plan.confidence, float) and 0.5 <= plan.confidence < 1, "a number in [0.5, 1)"),
        ("bootstrap_resamples", _whole(plan.bootstrap_resamples) and 1 <= plan.bootstrap_resamples <= 100_000,
         "a whole number from 1 to 100000"),
        ("bootstrap_seed", _whole(plan.bootstrap_seed) and plan.bootstrap_seed >= 0, "a non-negative whole number"),
        ("frozen_at_utc", isinstance(plan.frozen_at_utc, str) and len(plan.frozen_at_utc) <= 40, "ISO-8601 UTC text"),
    ]
    for name, valid, allowed in checks:
        if not valid:
            raise ValueError(f"{name} must be {allowed}; got {getattr(plan, name.split('/')[0])!r}")


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def plan_from_document(document: Mapping[str, object]) -> AnalysisPlan:
    """The plan a design file holds (:meth:`AnalysisPlan.to_document`).

    Raises
    ------
    ValueError
        Not a mapping, an unknown or missing key, or a value :class:`AnalysisPlan` refuses.
    """
    if not isinstance(document, Mapping):
        raise ValueError(f"plan must be a JSON object; got {type(document).__name__}")
    known = set(AnalysisPlan.__dataclass_fields__)
    unknown = sorted(set(document) - known)
    if unknown:
        raise ValueError(f"plan has unknown field(s) {', '.join(unknown)}")
    values = {key: tuple(value) if isinstance(value, list) else value for key, value in document.items()}
    if "primary_classes" not in values:
        raise ValueError("plan lacks primary_classes")
    return AnalysisPlan(**values)  # type: ignore[arg-type]


def _matches(reference: str | Path, standard: str) -> bool:
    return isinstance(reference, Path) if standard == "clinical" else reference == standard


def _differences(plan: AnalysisPlan, requested: AnalysisChoices) -> list[str]:
    shown = requested.reference.name if isinstance(requested.reference, Path) else requested.reference
    differences = [] if _matches(requested.reference, plan.reference_standard) else [
        f"reference {shown} instead of {plan.reference_standard}"]
    if requested.possible_counts_as_positive != plan.possible_counts_as_positive:
        differences.append("'possible' device statements count as "
                           f"{'positive' if requested.possible_counts_as_positive else 'negative'}")
    if requested.uncertain_as != plan.uncertain_as:
        differences.append(f"'uncertain' {_uncertain_words(requested.uncertain_as)} instead of "
                           f"{_uncertain_words(plan.uncertain_as)}")
    return differences


def requested_choices(plan: AnalysisPlan | None, *, reference: str | Path | None = None,
                      possible_counts_as_positive: bool | None = None,
                      uncertain_as: str | None = None) -> AnalysisChoices:
    """The choices asked for, each one not given taken from the plan (without a plan: consensus,
    ``possible`` positive, ``uncertain`` absent), so that only what was asked differently makes a
    sensitivity analysis."""
    defaults = plan.choices if plan else AnalysisChoices("consensus")
    return AnalysisChoices(
        defaults.reference if reference is None else reference,
        defaults.possible_counts_as_positive if possible_counts_as_positive is None else possible_counts_as_positive,
        defaults.uncertain_as if uncertain_as is None else uncertain_as)


def analysis_runs(plan: AnalysisPlan | None, requested: AnalysisChoices) -> list[AnalysisRun]:
    """The runs of an added-value analysis: the plan's, then a labelled sensitivity analysis for other choices.

    Without a plan: one exploratory run of ``requested``. With a plan: the pre-specified run
    (a ``clinical`` reference takes its CSV from ``requested``), and, when ``requested``
    differs from the plan, a second run labelled ``sensitivity analysis: …`` naming each
    difference.

    Raises
    ------
    ValueError
        The plan's reference is a clinical-diagnosis CSV and ``requested`` names none.
    """
    if plan is None:
        return [AnalysisRun(EXPLORATORY, requested, primary=False)]
    reference: str | Path = plan.reference_standard
    if plan.reference_standard == "clinical":
        if not isinstance(requested.reference, Path):
            raise ValueError("the plan's reference standard is a clinical-diagnosis CSV"
                             + (f" ({plan.reference_description})" if plan.reference_description else "")
                             + "; give that CSV as the reference")
        reference = requested.reference
    runs = [AnalysisRun(PRE_SPECIFIED, AnalysisChoices(reference, plan.possible_counts_as_positive,
                                                       plan.uncertain_as), primary=True)]
    differences = _differences(plan, requested)
    if differences:
        runs.append(AnalysisRun("sensitivity analysis: " + "; ".join(differences), requested, primary=False))
    return runs
