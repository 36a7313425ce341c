"""``python tests/programs/uvicorn_serve.py PORT LOG_CONFIG_JSON``: uvicorn.run with two
spawned workers serving uvicorn_app, the logging config read from a JSON file."""

from __future__ import annotations

import json
import os
import sys

import uvicorn

if __name__ == "__main__":  # spawned workers import this file again
    with open(sys.argv[2]) as f:
        log_config = json.load(f)
    uvicorn.run("uvicorn_app:app", host="127.0.0.1", port=int(sys.argv[1]), workers=2,
                log_config=log_config, app_dir=os.path.dirname(os.path.abspath(__file__)))
