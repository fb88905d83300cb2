"""Password hashing: argon2id (argon2-cffi's defaults, RFC 9106's second recommended profile).

One hash or check costs about 190 ms of CPU and 64 MiB, so request handlers never run it on the event loop: they
await `hashed` and `matches`, which run it on a small pool of threads of its own (argon2-cffi releases the GIL
while it works), so other requests go on meanwhile, and a flood of sign-in attempts queues there instead of
taking every thread the app has. Callers hold no transaction while they wait (see conference/accounts.py).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

HASHING_THREADS = 4  # at most this many checks at once per process (each takes 64 MiB while it runs)

_hasher = PasswordHasher()
_pool = ThreadPoolExecutor(max_workers=HASHING_THREADS, thread_name_prefix="argon2")
# Checked when there is no hash to check against (no such account), so a miss takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a real password, only for timing")


def hash_password(password: str) -> str:
    """Blocking: for the command line and tests. Request handlers await `hashed`."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Blocking: whether `password` matches `password_hash` ("" never matches, but costs the same time)."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with other parameters than today's (cheap: it only reads them)."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return False


async def hashed(password: str) -> str:
    """`hash_password` on the hashing threads."""
    return await asyncio.get_running_loop().run_in_executor(_pool, hash_password, password)


async def matches(password_hash: str, password: str) -> bool:
    """`verify_password` on the hashing threads."""
    return await asyncio.get_running_loop().run_in_executor(_pool, verify_password, password_hash, password)
