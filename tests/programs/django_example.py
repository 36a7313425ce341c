"""``python tests/programs/django_example.py PROJECT_DIR REQUEST_ID``: one request through
examples/django_project (settings mysite.settings) with Django's test client; for
tests/test_django.py."""

from __future__ import annotations

import os
import sys

project = sys.argv[1]
sys.path[:0] = [project, os.path.dirname(project)]
os.environ["DJANGO_SETTINGS_MODULE"] = "mysite.settings"
import django  # type: ignore[import-untyped]  # noqa: E402

django.setup()
from django.test import Client  # type: ignore[import-untyped]  # noqa: E402

response = Client().get("/hello/ada/", HTTP_X_REQUEST_ID=sys.argv[2])
assert response.status_code == 200, response.status_code
