"""``python -m ecgreview``: the command-line interface (see :mod:`ecgreview.cli`)."""

import sys

from ecgreview.cli import main

sys.exit(main())
