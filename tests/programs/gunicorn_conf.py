"""The gunicorn config file of tests/test_gunicorn.py: the package's hooks, as documented,
and four workers; the bind address and per-test settings come on the command line."""

from astralog_logging.gunicorn import *  # noqa: F403  # the documented one-line setup

workers = 4
graceful_timeout = 10
