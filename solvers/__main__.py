"""``python -m solvers`` is the ``optexec`` command."""

import sys

from .cli import main

sys.exit(main())
