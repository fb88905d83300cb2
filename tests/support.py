"""Test infrastructure shared by the suites: databases per test, live servers, and the skip/force rules.

PostgreSQL and chromium tests skip with a reason when those are missing, unless CONFERENCE_REQUIRE_POSTGRES=1 /
CONFERENCE_REQUIRE_BROWSER=1 (set by .ci/run), which turn the skip into a failure.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
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
    except (TimeoutError, OSError, ConnectionError, ImportError):
        return False
    except Exception:  # noqa: BLE001 - any asyncpg error means it is not usable
        return False
    return True


def require_postgres() -> None:
    if not postgres_available():
        skip_or_fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}", "CONFERENCE_REQUIRE_POSTGRES")


def require_chromium() -> None:
    if not Path(CHROMIUM).exists():
        skip_or_fail(
            f"chromium not found at {CHROMIUM} (apt-get install chromium)", "CONFERENCE_REQUIRE_BROWSER"
        )
    try:
        import playwright  # noqa: F401
    except ImportError:
        skip_or_fail("playwright is not installed (pip install -e '.[test]')", "CONFERENCE_REQUIRE_BROWSER")


def _with_db(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


class DatabaseFactory:
    """Fresh, migrated databases: SQLite files copied from a migrated template, PostgreSQL from a template DB."""

    def __init__(self, kind: str, workdir: Path) -> None:
        from conference.core.migrate import upgrade

        self.kind = kind
        self.workdir = workdir
        self.created: list[str] = []
        if kind == "sqlite":
            self.template = workdir / "template.db"
            upgrade(f"sqlite+aiosqlite:///{self.template}")
        else:
            self.template_name = f"conference_tmpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"  # one per factory
            asyncio.run(
                _pg(
                    [
                        f'DROP DATABASE IF EXISTS "{self.template_name}"',
                        f'CREATE DATABASE "{self.template_name}"',
                    ]
                )
            )
            upgrade(
                _with_db(PG_ADMIN_URL, self.template_name).replace("postgresql://", "postgresql+asyncpg://")
            )

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


class ServerGroup:
    """A `conference serve` started in a session of its own, so that its whole process group (the uvicorn parent
    and its workers) can be killed at once, as a crash or the OOM killer would (`kill_group`)."""

    def __init__(self, proc: subprocess.Popen[bytes], base: str) -> None:
        self.proc, self.base = proc, base

    def pids(self) -> list[int]:
        """The uvicorn parent and its descendants (workers), from /proc."""
        found, pending = [], [self.proc.pid]
        while pending:
            pid = pending.pop()
            found.append(pid)
            try:
                for task in Path(f"/proc/{pid}/task").iterdir():
                    pending += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
        return found

    @staticmethod
    def alive(pid: int) -> bool:
        """Running (a killed worker stays a zombie until whoever inherited it reaps it)."""
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state not in {"Z", "X"}

    def kill_group(self) -> None:
        """SIGKILL to every process of the group, at once: no shutdown code runs, open transactions die."""
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


@contextmanager
def server_group(
    database_url: str, *, workers: int = 1, env: dict[str, str] | None = None, log_path: Path | None = None
) -> Iterator[ServerGroup]:
    """Like live_server, in a new session (its own process group); yields a ServerGroup. On exit the parent gets
    SIGTERM as usual, then whatever is left of the group SIGKILL."""
    with live_server(database_url, workers=workers, env=env, log_path=log_path, _new_session=True) as group:
        yield group  # type: ignore[misc]


@contextmanager
def live_server(
    database_url: str,
    *,
    workers: int = 1,
    env: dict[str, str] | None = None,
    log_path: Path | None = None,
    _new_session: bool = False,
) -> Iterator[str]:
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
        [
            sys.executable,
            "-m",
            "conference.server.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=_new_session,
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
        yield ServerGroup(proc, base) if _new_session else base  # type: ignore[misc]
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if _new_session:  # whatever of the group outlived its parent
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        if log_path:
            log.close()  # type: ignore[union-attr]
