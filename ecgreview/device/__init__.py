"""The ECG device's own interpretation: its statements mapped onto the six DNN classes.

- :mod:`~ecgreview.device.statement_table`: the site-editable, versioned mapping table, and
  ``NOT_AVAILABLE`` (the call of every class for a file without statements);
- :mod:`~ecgreview.device._grammar`: how a statement is read: clauses, negation, probability and
  history cues and their scope over coordinated findings;
- :mod:`~ecgreview.device.statements`: the device's call per class, the statements read as negated
  or as history, coded statements and measurement rules.
"""
