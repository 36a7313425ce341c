#!/usr/bin/env python
"""A minimal Django project that logs to Astralog (see examples/django_settings.py).

    ASTRALOG_ENDPOINT=http://127.0.0.1:8080/v1/drain ASTRALOG_TOKEN=default-secret-token \
    ASTRALOG_PROJECT_ID=dev ASTRALOG_SERVICE=django \
        python examples/django_project/manage.py runserver 8000
    curl http://127.0.0.1:8000/hello/ada/
"""

import os
import sys

if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(1, os.path.dirname(here))  # examples/, for django_settings
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
