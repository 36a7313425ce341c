"""``init_worker``: the pool initializer that connects spawned workers to the listener.

Children started by ``spawn`` or ``forkserver`` inherit neither the logging configuration
nor the queue. Passing the handler as ``initargs`` pickles it into a handler that joins the
running listener (never a second one); forked children already have it, and calling this
there changes nothing. It is idempotent: a worker that configured an AstralogHandler at
import (a module-level dictConfig re-run by spawn) keeps exactly one.
"""

from __future__ import annotations

import logging
from typing import Optional

from ..handler import AstralogHandler


def init_worker(handler: Optional[AstralogHandler] = None) -> None:
    """Route this worker's root logger through ``handler`` (or one built from the environment)."""
    root = logging.getLogger()
    for existing in root.handlers:
        if isinstance(existing, AstralogHandler) and (
            handler is None or existing is handler or existing._same_listener(handler)
        ):
            if handler is not None and handler is not existing:
                handler.close()  # joined the same listener; one handler is enough
            return
    if handler is None:
        handler = AstralogHandler()
    root.addHandler(handler)
    wanted = handler._root_level
    if wanted and (root.level == logging.NOTSET or root.level > wanted):
        root.setLevel(wanted)
