"""The pre-generated RSA key pool: each key once, never across a fork."""

from __future__ import annotations

import os
import time

from cryptography.hazmat.primitives import serialization

from keypairs_ext.keypool import RSAKeyPool


def _fingerprint(key) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )


def _wait_full(pool: RSAKeyPool, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while pool._keys.qsize() < pool.size and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pool._keys.qsize() == pool.size


def test_keys_are_handed_out_once():
    pool = RSAKeyPool(size=3, bits=2048)
    pool.take("rsa", 2048)  # starts the filler
    _wait_full(pool)
    started = time.perf_counter()
    keys = [pool.take("rsa", 2048) for _ in range(3)]
    assert time.perf_counter() - started < 0.05  # served from the pool, not generated
    more = [pool.take("rsa", 2048) for _ in range(3)]  # pool empty: made inline
    fingerprints = {_fingerprint(k) for k in keys + more}
    assert len(fingerprints) == 6
    assert all(k.key_size == 2048 for k in keys + more)


def test_other_algorithms_and_sizes_bypass_the_pool():
    pool = RSAKeyPool(size=2, bits=2048)
    assert pool.take("rsa", 3072).key_size == 3072
    assert pool._owner_pid is None  # never started for a key it does not hold
    assert pool.take("ed25519", 256) is not None


def test_size_zero_never_starts_a_filler():
    pool = RSAKeyPool(size=0, bits=2048)
    assert pool.take("rsa", 2048).key_size == 2048
    assert pool._owner_pid is None


def test_a_forked_worker_never_hands_out_the_parents_keys():
    pool = RSAKeyPool(size=2, bits=2048)
    pool.take("rsa", 2048)
    _wait_full(pool)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker
        os.close(read_end)
        child_keys = [pool.take("rsa", 2048) for _ in range(2)]
        os.write(write_end, b"\n".join(_fingerprint(k) for k in child_keys))
        os._exit(0)
    os.close(write_end)
    received = b""
    while chunk := os.read(read_end, 65536):
        received += chunk
    os.waitpid(pid, 0)
    parent_keys = {_fingerprint(pool.take("rsa", 2048)) for _ in range(2)}
    assert not set(received.split(b"\n")) & parent_keys
