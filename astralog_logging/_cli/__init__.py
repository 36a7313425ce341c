"""The commands behind ``astralog-logging`` (``cli.py``): send, check, tail and demo."""
