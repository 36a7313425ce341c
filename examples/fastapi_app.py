"""A FastAPI app under uvicorn whose requests and logs arrive in Astralog as fields.

    astralog-logging drain &                    # a local drain: http://127.0.0.1:8080/v1/drain
    export ASTRALOG_ENDPOINT=http://127.0.0.1:8080/v1/drain ASTRALOG_TOKEN=default-secret-token
    export ASTRALOG_PROJECT_ID=dev ASTRALOG_SERVICE=fastapi-shop
    python examples/fastapi_app.py              # serves http://127.0.0.1:8000
    curl http://127.0.0.1:8000/items/7          # an info entry, route /items/{item_id}
    curl http://127.0.0.1:8000/export           # a streamed body; its records share request_id
    curl http://127.0.0.1:8000/fail             # an error entry with the exception
    astralog-logging tail

``build_uvicorn_logconfig()`` routes the app's loggers and uvicorn's own (access lines
with method/path/status fields) to Astralog and the console; ``AstralogMiddleware`` adds
one entry per request with the route and duration.
"""

from __future__ import annotations

import asyncio
import logging
from typing import AsyncIterator, Dict

from fastapi import FastAPI
from fastapi.responses import StreamingResponse

from astralog_logging.asgi import AstralogMiddleware, build_uvicorn_logconfig

log = logging.getLogger("shop.api")

app = FastAPI()
app.add_middleware(AstralogMiddleware)  # behind a proxy: add_middleware(..., trust_proxy=1)


@app.get("/items/{item_id}")
async def read_item(item_id: int) -> Dict[str, int]:
    log.info("item read", extra={"meta": {"item_id": item_id}})
    return {"item_id": item_id}


@app.get("/export")
async def export() -> StreamingResponse:
    async def rows() -> AsyncIterator[bytes]:
        for n in range(3):
            log.info("exported row %d", n)
            await asyncio.sleep(0)
            yield f"row {n}\n".encode()

    return StreamingResponse(rows(), media_type="text/plain")


@app.get("/fail")
async def fail() -> None:
    raise RuntimeError("inventory service timed out")


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000, log_config=build_uvicorn_logconfig())
