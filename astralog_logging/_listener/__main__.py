"""``python -m astralog_logging._listener``: the listener's entry point (see ``_main``)."""

from astralog_logging._listener._main import run

run()
