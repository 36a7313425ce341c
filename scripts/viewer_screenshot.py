"""The README's screenshot of the drain's page: ``python scripts/viewer_screenshot.py``.

Fills a ``LocalDrain(page=True)`` with fifteen minutes of a small shop's logs (three
services, request ids, a burst of errors whose exception is a real chain built by the
package's own encoder), opens the page in the headless Chromium the tests use, expands
the newest error and saves ``docs/viewer.png``. Needs ``chromium`` and ``chromium-driver``.
"""

from __future__ import annotations

import datetime
import os
import random
import sys
import time
import uuid
from typing import Any, Dict, List

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from astralog_logging import __version__  # noqa: E402
from astralog_logging._encode._exc import exception_from_info  # noqa: E402
from astralog_logging.testing import LocalDrain  # noqa: E402
from tests._browser import chromium  # noqa: E402

OUT = os.path.join(ROOT, "docs", "viewer.png")
SHOWN = "shop/payments.py"
SERVICES = {"web": ["shop.http", "shop.orders", "shop.cart"],
            "worker": ["shop.tasks", "shop.email"], "billing": ["billing.charge"]}
MESSAGES = ["GET /orders/{n} 200", "cart updated for customer {n}", "order {n} confirmed",
            "sent receipt for order {n}", "charged order {n}", "cache miss for product {n}"]


def _exception() -> Dict[str, Any]:
    try:
        try:
            {"visa": 1}["amex"]
        except KeyError as exc:
            raise RuntimeError("payment provider rejected the card") from exc
    except RuntimeError:
        found = exception_from_info(sys.exc_info(), lambda text: text.replace(__file__, SHOWN))
    link = found
    while link is not None:  # the frames name this script; show the shop's file instead
        for frame in link["frames"]:
            frame["file"] = SHOWN
        link = link["cause"]
    assert found is not None
    return found


def _entries(now: datetime.datetime) -> List[Dict[str, Any]]:
    rng = random.Random(3)
    logs = []
    for n in range(900):
        at = now - datetime.timedelta(seconds=900 - n + rng.random())
        service = rng.choice(list(SERVICES))
        burst = 884 <= n <= 893
        level = rng.choice(["error"] * 3 + ["warn"] if burst else
                           ["info"] * 12 + ["debug"] * 3 + ["warn"])
        entry: Dict[str, Any] = {
            "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "level": level,
            "message": rng.choice(MESSAGES).format(n=1000 + n), "service": service,
            "logger": rng.choice(SERVICES[service]), "host": f"{service}-1",
            "pid": 4100 + n % 3, "process_name": "MainProcess", "thread_name": "MainThread",
            "source": {"file": "shop/orders.py", "line": 88, "function": "handle"},
            "meta": {"request_id": f"req-{(1000 + n) // 4:x}", "customer": 30 + n % 17},
            "tags": ["shop"]}
        if level == "error":
            entry["message"] = f"payment failed for order {1000 + n}"
            entry["exception"] = _exception()
        logs.append(entry)
    return logs


def main() -> int:
    with LocalDrain(page=True) as drain:
        logs = _entries(datetime.datetime.now(datetime.timezone.utc))
        for start in range(0, len(logs), 300):
            batch = uuid.uuid4().hex
            reply = requests.post(drain.endpoint, timeout=10, json={
                "project_id": "shop", "service": "web", "batch_id": batch,
                "sdk": {"name": "astralog-logging", "version": __version__},
                "logs": logs[start:start + 300]}, headers={
                "Authorization": f"Bearer {drain.token}", "Idempotency-Key": batch,
                "User-Agent": f"astralog-logging/{__version__} python/"
                              f"{sys.version_info[0]}.{sys.version_info[1]}"})
            reply.raise_for_status()
        with chromium() as browser:
            browser.set_window_size(1400, 1000)
            browser.get(f"{drain.page_url}?service=web")
            deadline = time.monotonic() + 10
            while not browser.find_elements("css selector", "tr.row .exc-summary"):
                if time.monotonic() > deadline:
                    raise RuntimeError("the page showed no error row within 10 s")
                time.sleep(0.1)
            error = browser.find_element("css selector", "tr.row .exc-summary")
            error.find_element("xpath", "./ancestor::tr").click()
            browser.execute_script("window.scrollTo(0, 0)")
            time.sleep(0.5)  # the histogram's canvas is drawn after the rows
            browser.save_screenshot(OUT)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
