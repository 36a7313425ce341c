"""What a Django project adds to its settings.py to ship its logs to Astralog.

Copy ``LOGGING`` and put ``ASTRALOG_MIDDLEWARE`` first in ``MIDDLEWARE`` (so its timing
covers the other middleware). The handler reads ASTRALOG_TOKEN, ASTRALOG_PROJECT_ID,
ASTRALOG_SERVICE and ASTRALOG_ENDPOINT from the environment; set ASTRALOG_ENABLED=0 where
nothing should be sent (tests, CI). examples/django_project/ is a project that uses this.
"""

ASTRALOG_MIDDLEWARE = "astralog_logging.django.RequestMiddleware"

# Optional: options of the middleware. trust_proxy=1 when one proxy (nginx, a load
# balancer) sits in front and writes X-Forwarded-For; leave it out otherwise.
ASTRALOG_REQUEST_MIDDLEWARE = {"trust_proxy": False}

LOGGING = {
    "version": 1,
    # Django configures its own loggers first; keep them (their records reach the root).
    "disable_existing_loggers": False,
    "formatters": {"console": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        # "()" works on every Python version; settings come from ASTRALOG_* variables.
        "astralog": {"()": "astralog_logging.AstralogHandler"},
        "console": {"class": "logging.StreamHandler", "formatter": "console"},
    },
    "root": {"level": "INFO", "handlers": ["astralog", "console"]},
}
