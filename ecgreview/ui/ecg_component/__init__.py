"""The 12-lead ECG paper as a client-side component: laid out in Python, drawn as SVG in the browser.

:func:`paper_payload` (no streamlit) turns a record and a view into the compact data the browser
draws; :func:`ecg_paper` mounts it. The static files ``paper.js`` and ``paper.css`` sit beside
this module.
"""

from ecgreview.ui.ecg_component.component import ecg_paper
from ecgreview.ui.ecg_component.payload import decode_points, encode_points, paper_payload

__all__ = ["decode_points", "ecg_paper", "encode_points", "paper_payload"]
