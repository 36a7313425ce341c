"""Sequence numbers: count exactly what a killed listener had read but not yet taken in.

Every frame carries its producer's id and how many records that producer had written into
the queue before it (``_app._channel`` numbers frames as they are written, so the records a
producer drops itself never open a hole). The listener remembers, per producer, the number
it expects next and stores it in the shared table as soon as a frame's records are in the
outbox, where ``at_risk`` (or the spool) covers them. A listener killed after reading
frames but before that point takes records nobody has counted; its successor loads the
table and finds the hole at that producer's next frame. So a kill costs ``at_risk`` (counted
by the owner at once) plus the holes (counted here), and nothing in between goes unsaid.

The table has room for ``SEQ_ENTRIES`` producers; past that the least recently heard one is
forgotten, and from then on a producer the table does not know proves nothing, since it
may be a forgotten one.
"""

from __future__ import annotations

import collections
from typing import Dict, List

from .._ipc._ledger import Ledger, Loss
from .._ipc._shared import SEQ_ENTRIES

_MASK = 0xFFFFFFFF  # sequence numbers are 32-bit and wrap


class Gaps:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.stats = stats = ledger.stats
        # producer -> [table index, next expected sequence], least recently heard first
        self._known: collections.OrderedDict[int, List[int]] = collections.OrderedDict(
            (producer, [index, expected]) for index, producer, expected in stats.seq_table())
        used = {entry[0] for entry in self._known.values()}
        self._free = [i for i in range(SEQ_ENTRIES - 1, -1, -1) if i not in used]
        self._dirty: Dict[int, List[int]] = {}

    def see(self, producer: int, seq: int, count: int) -> int:
        """Note a frame of ``count`` records; return how many records are missing before it."""
        entry = self._known.get(producer)
        if entry is None:
            # A new producer starts at 0; one that starts later wrote frames that a dead
            # listener read and lost, unless the table forgot it.
            gap = 0 if self.stats.seq_forgot else seq
            entry = self._remember(producer)
        else:
            self._known.move_to_end(producer)
            gap = (seq - entry[1]) & _MASK
            if gap > _MASK // 2:
                return 0  # behind what we expect: one writer per producer makes it impossible
        if gap:
            # Counted and stored at once, so a listener killed again before its next commit
            # does not count the same hole a second time.
            self.ledger.lost(Loss.GAP, gap)
            self.stats.set_seq(entry[0], producer, seq)
        entry[1] = (seq + count) & _MASK
        self._dirty[producer] = entry
        return gap

    def commit(self) -> None:
        """Store what was seen; called once those records are counted in the outbox."""
        for producer, (index, expected) in self._dirty.items():
            self.stats.set_seq(index, producer, expected)
        self._dirty.clear()

    def _remember(self, producer: int) -> List[int]:
        if self._free:
            index = self._free.pop()
        else:
            old, (index, _) = self._known.popitem(last=False)
            self._dirty.pop(old, None)
            self.stats.forget_seq()
        entry = [index, 0]
        self._known[producer] = entry
        return entry
