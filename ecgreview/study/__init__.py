"""The added-value reader study: design, analysis, operating points, preprocessing sensitivity.

* :mod:`ecgreview.study.design` — the study set-up: cases, readers, each reader's seeded
  case order, an optional crossover with a wash-out, saved as JSON.
* :mod:`ecgreview.study.plan` — the analysis plan a design records before any reading
  (primary endpoints, reference, thresholds, padding, OR–Hillis factors); frozen once reading begins.
* :mod:`ecgreview.study.added_value` — unaided vs aided reading against a reference:
  OR–Hillis per class and per reader (primary, :mod:`~ecgreview.study.added_value_mrmc`),
  two-level bootstrap CIs (secondary), call changes (helpful vs automation bias), Fleiss'
  kappa per mode, confidence and reading time, the DNN and the device alone on the same cases.
* :mod:`ecgreview.study.study_analysis` — a study analysed as planned (a labelled sensitivity
  analysis for other choices), the flow of cases and readers, deviations, provenance;
  :mod:`ecgreview.study.study_report` writes it as one HTML file and one PDF.
* :mod:`ecgreview.study.operating_points` — ROC and precision-recall curves of the DNN,
  AUC, sensitivity/specificity at the paper's thresholds, the threshold for a target
  sensitivity (shown, never applied).
* :mod:`ecgreview.study.progress` — a reader's progress: done of total per session, the
  next case and step, the wash-out.
* :mod:`ecgreview.study.figures` — plotly figures of the above.
* :mod:`ecgreview.study.mrmc` — the Obuchowski–Rockette–Hillis MRMC analysis (AUC, sensitivity,
  specificity; random/fixed readers and cases), validated on the Van Dyke data.
* :mod:`ecgreview.study.agreement` — Cohen's and Fleiss' kappa with their intervals.
* :mod:`ecgreview.study.padding` — how many DNN calls flip between centre and end padding.
* :mod:`ecgreview.study.report` and :mod:`ecgreview.cli.study` — the text report, the files
  and the CLI (``evaluate --added-value [--study]``, ``study create|plan|show|list|report``, ``padding-report``).

Nothing heavy is imported here: import the submodule you need.
"""
