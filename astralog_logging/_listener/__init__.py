"""The listener process: read frames, batch, keep an outbox, deliver over HTTP with
retries, spool to disk. Runs as ``python -m astralog_logging._listener`` in a fresh
interpreter (see ``_main``); only this package imports requests and tenacity."""
