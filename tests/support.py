"""Test infrastructure shared by the suites: databases per test, live servers, and the skip/force rules.

PostgreSQL and chromium tests skip with a reason when those are missing, unless CONFERENCE_REQUIRE_POSTGRES=1 /
CONFERENCE_REQUIRE_BROWSER=1 (set by .ci/run), which turn the skip into a failure.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

PG_ADMIN_URL = os.environ.get("CONFERENCE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
CHROMIUM = os.environ.get("CONFERENCE_TEST_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")


def _flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in {"1", "true", "yes"}


def skip_or_fail(reason: str, require_flag: str) -> None:
    if _flag(require_flag):
        pytest.fail(f"{reason} ({require_flag}=1 forbids skipping)", pytrace=False)
    pytest.skip(reason)


async def _pg(sql: list[str], url: str = PG_ADMIN_URL) -> None:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=5)
    try:
        for statement in sql:
            await conn.execute(statement)
    finally:
        await conn.close()


def postgres_available() -> bool:
    try:
        asyncio.run(_pg(["SELECT 1"]))
    except (OSError, ConnectionError, asyncio.TimeoutError, ImportError):
        return False
    except Exception:  # noqa: BLE001 - any asyncpg error means it is not usable
        return False
    return True


def require_postgres() -> None:
    if not postgres_available():
        skip_or_fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}", "CONFERENCE_REQUIRE_POSTGRES")


def require_chromium() -> None:
    if not Path(CHROMIUM).exists():
        skip_or_fail(f"chromium not found at {CHROMIUM} (apt-get install chromium)", "CONFERENCE_REQUIRE_BROWSER")
    try:
        import playwright  # noqa: F401
    except ImportError:
        skip_or_fail("playwright is not installed (pip install -e '.[test]')", "CONFERENCE_REQUIRE_BROWSER")


def _with_db(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


class DatabaseFactory:
    """Fresh, migrated databases: SQLite files copied from a migrated template, PostgreSQL from a template DB."""

    def __init__(self, kind: str, workdir: Path) -> None:
        from conference.migrate import upgrade

        self.kind = kind
        self.workdir = workdir
        self.created: list[str] = []
        if kind == "sqlite":
            self.template = workdir / "template.db"
            upgrade(f"sqlite+aiosqlite:///{self.template}")
        else:
            self.template_name = f"conference_tmpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"  # one per factory
            asyncio.run(_pg([f'DROP DATABASE IF EXISTS "{self.template_name}"',
                             f'CREATE DATABASE "{self.template_name}"']))
            upgrade(_with_db(PG_ADMIN_URL, self.template_name).replace("postgresql://", "postgresql+asyncpg://"))

    def new(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        if self.kind == "sqlite":
            path = self.workdir / f"{name}.db"
            shutil.copyfile(self.template, path)
            return f"sqlite+aiosqlite:///{path}"
        asyncio.run(_pg([f'CREATE DATABASE "{name}" TEMPLATE "{self.template_name}"']))
        self.created.append(name)
        return _with_db(PG_ADMIN_URL, name).replace("postgresql://", "postgresql+asyncpg://")

    def drop(self, url: str) -> None:
        if self.kind == "postgresql":
            name = url.rsplit("/", 1)[1]
            asyncio.run(_pg([f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)']))

    def close(self) -> None:
        if self.kind == "postgresql":
            asyncio.run(_pg([f'DROP DATABASE IF EXISTS "{self.template_name}" WITH (FORCE)']))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(database_url: str, *, workers: int = 1, env: dict[str, str] | None = None,
                log_path: Path | None = None) -> Iterator[str]:
    """`conference serve` in a real process (uvicorn, N workers); yields its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    full_env = {
        **os.environ,
        "CONFERENCE_DATABASE_URL": database_url,
        "CONFERENCE_SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "CONFERENCE_BASE_URL": base,
        "CONFERENCE_RATE_LIMIT": "",
        **(env or {}),
    }
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen(
        [sys.executable, "-m", "conference.cli", "serve", "--port", str(port), "--workers", str(workers)],
        env=full_env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"conference serve exited with {proc.returncode}")
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("conference serve did not start in 30 s")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log_path:
            log.close()  # type: ignore[union-attr]
