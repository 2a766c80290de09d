"""``python -m dse.cli``: the ``dse`` command (tests and benchmarks start it this way)."""

import sys

from dse.cli import main

sys.exit(main())
