"""Settings of the example project: Django's minimum plus the Astralog lines."""

from django_settings import ASTRALOG_MIDDLEWARE, ASTRALOG_REQUEST_MIDDLEWARE, LOGGING

SECRET_KEY = "example-only-not-secret"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
ROOT_URLCONF = "mysite.urls"
INSTALLED_APPS: list = []
MIDDLEWARE = [
    ASTRALOG_MIDDLEWARE,  # first, so its timing covers everything after it
    "django.middleware.common.CommonMiddleware",
]
DATABASES: dict = {}
USE_TZ = True

__all__ = ["ASTRALOG_REQUEST_MIDDLEWARE", "LOGGING"]
