"""``python tests/programs/usr1_sender.py PID``: SIGUSR1 to PID every 0.2 ms, 50000 times;
the signal source of tests/test_hostile_ipc.py's signal-handler test (kept light: it must
start signalling at once)."""

from __future__ import annotations

import os
import signal
import sys
import time

for _ in range(50000):
    os.kill(int(sys.argv[1]), signal.SIGUSR1)
    time.sleep(0.0002)
