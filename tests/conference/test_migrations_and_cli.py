"""The schema comes only from migrations, and the command line does what API.md says."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import conference.core.models  # noqa: F401  (imported for its tables in SQLModel.metadata)
import sessions.models  # noqa: F401  (imported for its tables in SQLModel.metadata)
from conference.core.security import hash_token
from conference.server.demo import HAND_BOOKINGS


def test_migrations_match_the_models(database_url: str) -> None:
    async def diff() -> list[object]:
        engine = create_async_engine(database_url)
        async with engine.connect() as conn:
            result = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), SQLModel.metadata
                )
            )
        await engine.dispose()
        return list(result)

    assert asyncio.run(diff()) == []


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CONFERENCE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "CONFERENCE_SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
    }
    return subprocess.run(
        [sys.executable, "-m", "conference.server.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


def test_fresh_sqlite_comes_up_and_token_create_prints_only_the_token(tmp_path: Path) -> None:
    result = _cli(tmp_path, "token", "create", "--role", "staff", "--name", "Door 1")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert result.stdout == token + "\n" and token.startswith("ct_") and len(token) > 40

    async def stored() -> list[tuple[str, str, str]]:
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.text("SELECT name, role, token_hash FROM api_token"))).all()
        await engine.dispose()
        return [tuple(r) for r in rows]  # type: ignore[misc]

    assert asyncio.run(stored()) == [("Door 1", "staff", hash_token(token))]
    bad = _cli(tmp_path, "token", "create", "--role", "admin")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_demo_loads_a_realistic_event_and_is_rerunnable(tmp_path: Path) -> None:
    result = _cli(tmp_path, "demo", "--attendees", "40")
    assert result.returncode == 0, result.stderr
    assert "40 delegates added" in result.stderr

    async def facts() -> tuple[str, int, int, set[str]]:
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
        async with engine.connect() as conn:
            name = (await conn.execute(sa.text("SELECT name FROM conference"))).scalar_one()
            types = (await conn.execute(sa.text("SELECT count(*) FROM ticket_type"))).scalar_one()
            regs = (await conn.execute(sa.text("SELECT count(*) FROM registration"))).scalar_one()
            sectors = set((await conn.execute(sa.text("SELECT DISTINCT sector FROM registration"))).scalars())
        await engine.dispose()
        return name, types, regs, sectors

    name, types, regs, sectors = asyncio.run(facts())
    # The 40 through the form, and the organisers' hand-made bookings (made once, with the event).
    assert "Conference" in name and types >= 5 and regs == 40 + len(HAND_BOOKINGS) and len(sectors) >= 5
    again = _cli(tmp_path, "demo", "--attendees", "10")
    assert again.returncode == 0, again.stderr
    assert asyncio.run(facts())[2] == 50 + len(HAND_BOOKINGS)
