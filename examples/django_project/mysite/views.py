"""Two views: one that logs with a field, one that fails (to see an error entry)."""

import logging

from django.http import HttpRequest, HttpResponse

log = logging.getLogger(__name__)


def hello(request: HttpRequest, name: str) -> HttpResponse:
    # Carries request_id (from the middleware) and name, as fields.
    log.info("greeting %s", name, extra={"meta": {"name": name}})
    return HttpResponse(f"hello {name}\n", content_type="text/plain")


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("this view always fails")
