"""Preload of the worker processes of the embedded cluster: Ctrl-C is the client's to handle.

A terminal sends Ctrl-C (SIGINT) to every process of the foreground job,
and the embedded LocalCluster's worker processes are in it: each printed a
KeyboardInterrupt traceback while the client was already stopping the sweep
and closing the cluster, which ends the workers anyway. The ``local`` entry
of ``dse/data/dse.yaml`` preloads this module into its workers
(``preload: [dse.worker_signals]``), so they ignore SIGINT; the client
still receives it, cancels the blocks in flight and closes the cluster. A
Ctrl-C in the first second of a worker's life, before the preload runs,
can still print its traceback.
"""

from __future__ import annotations

import signal
import threading

__all__ = ["dask_setup"]


def dask_setup(worker=None) -> None:
    """Ignore SIGINT in this worker process (called by Dask when the worker starts)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
