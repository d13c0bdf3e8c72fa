"""The words of the study report: the plan as items and the methods paragraph, naming every method and version.

:func:`methods_paragraph` writes what a manuscript's statistical-methods section needs: the
design, the reference standard, how ``uncertain`` and ``possible`` counted, the primary analysis
(Obuchowski–Rockette with Hillis' degrees of freedom, jackknife covariance, which factors were
random), the per-reader intervals, the secondary bootstrap, Fleiss' kappa, the DNN (weights
fingerprint, thresholds) and the software versions; each estimator with its reference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecgreview.record import CLASSES

if TYPE_CHECKING:
    from ecgreview.study.study_analysis import StudyAnalysis

__all__ = ["methods_paragraph", "plan_items"]

REFERENCES = ("Obuchowski NA, Rockette HE. Commun Stat Simul Comput 1995;24:285–308",
              "Hillis SL. Stat Med 2007;26:596–619", "Hillis SL, Berbaum KS, Metz CE. Acad Radiol 2008;15:647–661",
              "Fleiss JL. Psychol Bull 1971;76:378–382",
              "Ribeiro AH et al. Nat Commun 2020;11:1760")


def plan_items(analysis: StudyAnalysis) -> list[str]:
    """The plan in words, or why every result is exploratory."""
    if analysis.plan is None:
        reason = ("its design holds no analysis plan" if analysis.design else
                  "these readings belong to no study design")
        return [f"No pre-specified analysis plan ({reason}): every result in this report is exploratory."]
    return analysis.plan.describe()


def _design_sentence(analysis: StudyAnalysis) -> str:
    result, design = analysis.primary, analysis.design
    readers, cases = len(result.readers), len(result.cases)
    if design is None:
        return (f"{readers} readers read {cases} ECGs unaided and aided by the DNN; the readings belong to no "
                "study design.")
    if design.crossover:
        layout = (f"in a crossover design: each reader read half the cases aided and half unaided in session 1 and "
                  f"the reverse in session 2, after a wash-out of {design.washout_days} days")
    else:
        layout = ("in a two-step design: each case was read unaided and saved, then read again with the DNN's "
                  "output and the device's statements shown")
    return (f"In study {design.study_id}, {readers} readers read {cases} 12-lead ECGs {layout}; each reader's case "
            f"order was drawn at random (numpy default_rng, seed {design.seed}).")


def _dnn_sentence(analysis: StudyAnalysis) -> str:
    provenance = analysis.provenance
    weights = provenance.loc[provenance["item"] == "model weights sha256", "value"]
    weights = weights[weights != "(none)"]
    thresholds = ", ".join(f"{name} {value:g}" for name, value in zip(CLASSES, analysis.cohort.thresholds))
    fingerprint = "; ".join(value[:16] + "…" for value in weights) or "none recorded"
    return (f"The DNN was the Ribeiro et al. (2020) network (weights sha256 {fingerprint}); its call is "
            f"p > threshold ({thresholds}).")


def methods_paragraph(analysis: StudyAnalysis) -> str:
    """The statistical-methods paragraph of the study (module docstring)."""
    result, plan = analysis.primary, analysis.plan
    percent = f"{result.confidence * 100:g}%"
    random = {"random readers, random cases": "readers and cases as random factors",
              "fixed readers, random cases": "readers as fixed and cases as random",
              "random readers, fixed cases": "readers as random and cases as fixed"}[result.mrmc_analysis]
    uncertain = ("left out per class" if result.uncertain_as == "exclude" else f"counted as {result.uncertain_as}")
    versions = ", ".join(f"{name} {version}" for name, version in
                         ((row.item.removeprefix("analysis software: "), row.value)
                          for row in analysis.provenance.itertuples() if row.item.startswith("analysis software")))
    sentences = [
        _design_sentence(analysis),
        f"The reference standard was {result.reference_label}. Reader calls of 'uncertain' were {uncertain}; device "
        f"statements of 'possible' counted as {'positive' if analysis.cohort.possible_counts_as_positive else 'negative'}.",
        "Per class, sensitivity and specificity unaided and aided, and their difference (aided − unaided), were "
        "analysed by the Obuchowski–Rockette method with Hillis' denominator degrees of freedom (Obuchowski & "
        f"Rockette 1995; Hillis 2007; Hillis, Berbaum & Metz 2008), treating {random}; the covariances of the "
        "readers' figures of merit were estimated by the jackknife over cases. The analysis needs every reader to "
        "have read every case in both modes, so per class it used the cases with a reference that every reader "
        "read in both modes (the flow table counts the others).",
        f"Per reader, {percent} intervals are normal, from the same jackknife covariance.",
        f"As a secondary analysis, {percent} percentile bootstrap intervals resampled readers and cases "
        f"({result.n_resamples} resamples, seed {result.seed}); per reader, cases.",
        "Inter-reader agreement in each mode is Fleiss' kappa (Fleiss 1971) with a percentile bootstrap interval "
        "over cases.",
        *(f"As a sensitivity analysis beside the pre-specified one, the OR–Hillis analysis was repeated with "
          f"{run.label.removeprefix('sensitivity analysis: ')}." for run in analysis.runs[1:]),
        _dnn_sentence(analysis),
        ("The primary endpoints were fixed in an analysis plan before the first reading (plan sha256 "
         f"{plan.fingerprint[:16]}…); intervals are not adjusted for multiplicity." if plan else
         "No analysis plan was fixed before reading; every result is exploratory."),
        f"Computed with {versions}; the OR–Hillis implementation reproduces the output of OR-DBM MRMC 2.51 and of "
        "MRMCaov (AUC and binary sensitivity) on the Van Dyke et al. (1993) data.",
        "References: " + "; ".join(REFERENCES) + ".",
    ]
    return " ".join(sentences)
