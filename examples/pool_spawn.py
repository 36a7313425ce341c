"""A spawn (or forkserver) pool: init_worker connects each worker to the one listener."""

from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import astralog_logging


def work(n: int) -> int:
    logging.getLogger("example.pool").info("item %d in %d", n, os.getpid())
    return n * n


def main() -> None:
    handler = astralog_logging.AstralogHandler()  # settings from ASTRALOG_* variables
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(4, mp_context=ctx, initializer=astralog_logging.init_worker,
                             initargs=(handler,)) as pool:
        print(sum(pool.map(work, range(100))))


if __name__ == "__main__":
    main()
