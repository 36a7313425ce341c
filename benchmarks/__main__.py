"""``python -m benchmarks [--quick]``: see ``benchmarks/__init__.py``."""

from __future__ import annotations

import sys

from ._run import main

sys.exit(main())
