"""Runs the script named by argv[1] as __main__, then leaves by os._exit (no atexit, no
logging.shutdown), as a serverless sandbox that is frozen for good: for
tests/test_serverless.py's run of examples/aws_lambda.py.
"""

from __future__ import annotations

import os
import runpy
import sys

runpy.run_path(sys.argv[1], run_name="__main__")
os._exit(0)
