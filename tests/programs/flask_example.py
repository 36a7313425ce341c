"""``python tests/programs/flask_example.py EXAMPLES_DIR REQUEST_ID``: one request through
examples/flask_app.py, as shipped, with Flask's test client; for tests/test_wsgi.py."""

from __future__ import annotations

import sys

sys.path.insert(0, sys.argv[1])
from flask_app import app  # type: ignore[import-not-found]  # examples/ is on no path

response = app.test_client().get("/orders/42", headers={"X-Request-ID": sys.argv[2]})
assert response.get_json() == {"id": 42, "total": 99.5}, response.status_code
