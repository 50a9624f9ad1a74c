"""``wasi:random``: the OS's random source for both the secure and the insecure interfaces."""

from __future__ import annotations

import os

from .host import Interface


def random_bytes(length: int) -> bytes:
    return os.urandom(length)


def random_u64() -> int:
    return int.from_bytes(os.urandom(8), "little")


def insecure_seed() -> tuple[int, int]:
    return random_u64(), random_u64()


RANDOM = Interface(
    "wasi:random/random", funcs={"get-random-bytes": random_bytes, "get-random-u64": random_u64}
)
INSECURE = Interface(
    "wasi:random/insecure",
    funcs={"get-insecure-random-bytes": random_bytes, "get-insecure-random-u64": random_u64},
)
SEED = Interface("wasi:random/insecure-seed", funcs={"insecure-seed": insecure_seed})
INTERFACES = (RANDOM, INSECURE, SEED)
