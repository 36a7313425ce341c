"""Who owns the listener: one queue and one listener process per configuration per tree.

The first handler in a process tree creates a *link* (the multiprocessing queue, a datagram
socket for processes that cannot be handed the queue, the shared counters, and the listener
process) and its process becomes the owner. Handlers created later with the same
configuration reuse it: in the same process directly, in forked children by inheritance,
in any other process through the advertised address (see ``_ipc._address``). Only the owner
starts, restarts and stops the listener.

A link outlives its handlers: when the owner closes its last handler the listener is
stopped after delivering everything, but the queue stays, so a re-configuration (Django,
gunicorn's SIGHUP and uvicorn all call dictConfig again) starts a listener on the same pipe
and records written meanwhile by other processes are not lost.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Dict, Optional, Tuple

from .._config import Config
from .._ipc import _address
from .._report import Reporter
from ._link import Link, join
from ._owner import OwnerLink

_links: Dict[Tuple[Any, ...], Link] = {}
_registry_lock = threading.Lock()


def attach(config: Config, reporter: Reporter,
           hint: Optional[_address.Address] = None) -> Link:
    """The link for this configuration: inherited, reused, joined, or new (then we own it)."""
    with _registry_lock:
        link = _links.get(config.key)
        if link is None:
            address = hint or _address.find(config)
            if address is not None and address.owner_pid != os.getpid():
                link = join(config, reporter, address)
            if link is None:
                link = OwnerLink(config, reporter)
            _links[config.key] = link
        with link.lock:
            link.handlers += 1
            if link.is_owner:
                link.start()
    return link


def detach(link: Link, deadline: float) -> None:
    """One handler is done; the owner's last one stops the listener."""
    with link.lock:
        link.handlers -= 1
        if link.is_owner and link.handlers <= 0:
            link.stop(deadline)


def _after_fork_in_child() -> None:
    # A lock held by another thread of the parent at fork time would stay held forever.
    global _registry_lock
    _registry_lock = threading.Lock()
    for link in _links.values():
        link.lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
