# gunicorn -c examples/gunicorn.conf.py yourapp:app
# with ASTRALOG_TOKEN, ASTRALOG_PROJECT_ID, ASTRALOG_SERVICE (and ASTRALOG_ENDPOINT) set.
# The import provides logconfig_dict (root, gunicorn.error and gunicorn.access to Astralog
# and the console) and the worker_exit / on_exit hooks.
from astralog_logging.gunicorn import *  # noqa: F403

bind = "127.0.0.1:8000"
workers = 4
