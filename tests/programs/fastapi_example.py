"""``python tests/programs/fastapi_example.py EXAMPLES_DIR PORT``: examples/fastapi_app.py,
as shipped, under uvicorn with build_uvicorn_logconfig; for tests/test_asgi.py."""

from __future__ import annotations

import sys

import uvicorn

from astralog_logging.asgi import build_uvicorn_logconfig

sys.path.insert(0, sys.argv[1])
from fastapi_app import app  # type: ignore[import-not-found]  # examples/ is on no path

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]),
            log_config=build_uvicorn_logconfig(console=False, flush_interval=0.1))
