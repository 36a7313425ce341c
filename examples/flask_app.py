"""A Flask app whose requests and logs arrive in Astralog as structured entries.

    astralog-logging drain &                    # a local drain: http://127.0.0.1:8080/v1/drain
    export ASTRALOG_ENDPOINT=http://127.0.0.1:8080/v1/drain ASTRALOG_TOKEN=default-secret-token
    export ASTRALOG_PROJECT_ID=dev ASTRALOG_SERVICE=flask-shop
    python examples/flask_app.py                # serves http://127.0.0.1:5000
    curl http://127.0.0.1:5000/orders/42        # one info entry + the app's own record
    curl http://127.0.0.1:5000/orders/0         # a 404: a warn entry
    curl http://127.0.0.1:5000/checkout         # an exception: an error entry with traceback
    astralog-logging tail

Two lines do the work: dictConfig puts AstralogHandler on the root logger, and
``init_app`` adds one entry per request (method, path, route, status, duration_ms,
client_ip, user_agent, request_id) and puts request_id on every record logged meanwhile.
"""

from __future__ import annotations

import logging.config
from typing import Any, Dict

from flask import Flask, abort

from astralog_logging.flask import init_app

logging.config.dictConfig({
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"astralog": {"()": "astralog_logging.AstralogHandler"}},
    "root": {"level": "INFO", "handlers": ["astralog"]},
})

app = Flask("flask-shop")
init_app(app)  # behind a proxy that sets X-Forwarded-For: init_app(app, trust_proxy=1)

ORDERS = {42: {"id": 42, "total": 99.5}}


@app.get("/orders/<int:order_id>")
def get_order(order_id: int) -> Dict[str, Any]:
    order = ORDERS.get(order_id)
    if order is None:
        abort(404)
    app.logger.info("order loaded", extra={"meta": {"order_id": order_id}})
    return order


@app.get("/checkout")
def checkout() -> Dict[str, Any]:
    raise RuntimeError("payment provider unreachable")


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=5000)
