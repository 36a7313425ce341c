"""Benchmarks of issue 6: astralog-logging against the stdlib recipe and the peers.

Run from the repository root, with the ``bench`` extra installed::

    pip install -e '.[bench]'
    python -m benchmarks            # the full run, a few minutes on 2 cores
    python -m benchmarks --quick    # a smoke run, under a minute; its figures are noise

It prints markdown tables (emit cost, end to end, shutdown, memory through an outage, a
stalled drain with small bounds, the targets) and exits 1 if any run lost a record it did not
count. Layout: ``_run`` orchestrates and ``_report`` renders; each measurement (``_emit``,
``_e2e``, ``_shutdown``, ``_outage``, ``_stall``, ``_burst``) runs in a fresh interpreter
(``_worker``) against a receiver process (``_receiver``) that counts exactly which records
arrived; ``systems/`` holds one module per system under comparison.
``--scenarios stall`` (for example) runs a subset.
"""
