"""``python -m benchmarks [--quick] [--only SUITE ...] [--out DIR]``."""

import sys

from .runner import main

sys.exit(main())
