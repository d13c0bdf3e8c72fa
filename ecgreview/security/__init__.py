"""Security helpers of ecgreview: the spreadsheet formula guard, sign-in, and the PHI audit of ECG files.

Nothing heavy is imported here; import the submodules (:mod:`ecgreview.security.spreadsheet`,
:mod:`ecgreview.security.phi`) where they are needed.
"""
