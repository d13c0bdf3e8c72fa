"""The ECG device's own interpretation: its statements mapped onto the six DNN classes.

- :mod:`~ecgreview.device.statement_table`: the site-editable, versioned mapping table;
- :mod:`~ecgreview.device.statements`: negation, probability words, coded statements,
  measurement rules, and the device's call per class.
"""
