"""ecgreview: clinician review of 12-lead ECGs beside the Ribeiro et al. 2020 DNN.

The library is organised as one module per pipeline stage::

    io (read_ecg) -> preprocess (preprocess_ecg) -> model (predict_probabilities)
    -> reviews (append_review) -> evaluate

One :class:`~ecgreview.record.EcgRecord` flows through the stages. The Streamlit
UI (``ecgreview.ui``) and the CLI (``ecgreview.cli``) are thin shells over it.
"""

__version__ = "0.1.0"
