"""A bounded pool of pre-generated RSA keys, so that generate's latency stays flat.

RSA generation searches for primes: it takes about 100 ms at the median and
several hundred at the tail, while the rest of a request takes a few.  Each
API process keeps up to ``[keypairs] rsa_pool_size`` keys made ahead of time
by one background thread and hands each out once; an empty pool falls back
to generating in the request, so a burst is never slower than without one.

The filler starts lazily in the process that uses the pool, and a process
drops whatever it inherited: keys made before a fork would otherwise be
handed out by every worker.  Pooled keys live only in that process's memory:
never written, logged, or shared.  The cost is that up to ``size`` unissued
private keys sit in each worker's memory (readable to whoever can read that
memory, as the key of a request in flight is), and some idle CPU to refill.
"""

from __future__ import annotations

import os
import queue
import threading
from typing import Any

from keypairs_ext import crypto


class RSAKeyPool:
    def __init__(self, size: int, bits: int) -> None:
        self.size = size
        self.bits = bits
        self._keys: queue.Queue[Any] = queue.Queue(maxsize=max(size, 1))
        self._owner_pid: int | None = None
        self._lock = threading.Lock()

    def _ensure_filler(self) -> None:
        pid = os.getpid()
        if self._owner_pid == pid:
            return
        with self._lock:
            if self._owner_pid != pid:
                # A new process (or the first use): forget inherited keys.
                self._keys = queue.Queue(maxsize=self.size)
                self._owner_pid = pid
                threading.Thread(
                    target=self._fill, args=(pid, self._keys), name="rsa-key-pool", daemon=True
                ).start()

    def _fill(self, pid: int, keys: queue.Queue[Any]) -> None:
        while self._owner_pid == pid:
            keys.put(crypto.new_private_key("rsa", self.bits))  # blocks while full

    def take(self, algorithm: str, bits: int) -> Any:
        """A private key for ``generate_ssh_keypair(new_key=...)``."""
        if self.size > 0 and algorithm == "rsa" and bits == self.bits:
            self._ensure_filler()
            try:
                return self._keys.get_nowait()
            except queue.Empty:
                pass
        return crypto.new_private_key(algorithm, bits)
