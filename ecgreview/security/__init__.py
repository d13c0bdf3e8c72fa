"""Security helpers of ecgreview: the spreadsheet formula guard and the PHI audit of XML files.

Nothing heavy is imported here; import the submodules (:mod:`ecgreview.security.spreadsheet`,
:mod:`ecgreview.security.phi`) where they are needed.
"""
