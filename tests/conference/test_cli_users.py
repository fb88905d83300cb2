"""`conference user reset-password EMAIL` (conference/server/cli_users.py): a one-time link for a lost password, or
the new password from a prompt or standard input (never from the command line); clear errors; audited."""

from __future__ import annotations

import asyncio
import io
import re
import sys

import pytest
import sqlalchemy as sa
from sqlmodel import col

from conference import accounts
from conference.core import errors, passwords
from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.models import AuditEntry, PasswordReset, UserAccount, utcnow
from conference.core.settings import Settings
from conference.server import cli, cli_users

OLD = "the old forgotten passphrase"
NEW = "a brand new long passphrase"
EMAIL = "lost.organiser@example.org"


# The tests are synchronous, as the command is (it runs its own event loop): each step opens its own Database.


async def _make(settings: Settings, email: str = EMAIL, *, disabled: bool = False) -> None:
    database = Database.from_settings(settings)
    async with database.transaction() as db:
        user = await accounts.add_user(
            db, settings, email=email, role="organiser", actor=Actor("cli"), invite=False
        )
        await accounts.set_password(db, user, OLD, actor=Actor("cli"))
        user.failed_logins, user.locked_until = 5, utcnow() + accounts.LOCKOUT  # locked out, too
        if disabled:
            user.disabled_at = utcnow()
    await database.dispose()


async def _state(
    settings: Settings, email: str = EMAIL
) -> tuple[UserAccount, list[PasswordReset], list[str]]:
    database = Database.from_settings(settings)
    async with database.read() as db:
        user = await accounts.find_user(db, email)
        assert user is not None
        resets = list(
            (
                await db.execute(sa.select(PasswordReset).where(col(PasswordReset.user_id) == user.id))
            ).scalars()
        )
        actions = list(
            (
                await db.execute(
                    sa.select(col(AuditEntry.action))
                    .where(col(AuditEntry.subject) == str(user.id), col(AuditEntry.actor) == "cli")
                    .order_by(col(AuditEntry.id))
                )
            ).scalars()
        )
    await database.dispose()
    return user, resets, actions


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONFERENCE_DATABASE_URL", database_url)


def test_reset_password_prints_a_one_time_link_that_works(
    env: None, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_make(settings))
    assert cli.main(["user", "reset-password", EMAIL.upper()]) == 0
    out = capsys.readouterr().out
    match = re.search(r"/password/reset/(pr_[\w-]+)", out)
    assert match, out
    assert (
        f"{EMAIL.upper()} (organiser) can choose a new password here; the link works once, within 1 hour"
        in out
    )

    async def use_link() -> None:
        _user, resets, actions = await _state(settings)
        database = Database.from_settings(settings)
        assert len(resets) == 1 and resets[0].used_at is None
        assert "conference.password_reset.issued" in actions
        async with database.read() as db:
            reset, user = await accounts.find_reset(db, match.group(1))
        assert reset.id == resets[0].id and user.email == EMAIL
        # The link sets the password (as the /password/reset page does) and works once.
        user, _key = await accounts.complete_reset(database, match.group(1), NEW)
        assert await passwords.matches(user.password_hash, NEW)
        async with database.read() as db:
            with pytest.raises(errors.NotFound):
                await accounts.find_reset(db, match.group(1))
        await database.dispose()

    asyncio.run(use_link())


def test_reset_password_takes_the_new_password_from_standard_input(
    env: None,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    asyncio.run(_make(settings))
    # An outstanding link from before stops working once the password is set.
    assert cli.main(["user", "reset-password", EMAIL]) == 0
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdin", io.StringIO(NEW + "\n"))
    assert cli.main(["user", "reset-password", EMAIL, "--password-stdin"]) == 0
    out = capsys.readouterr().out
    assert "has a new password" in out and NEW not in out

    user, resets, actions = asyncio.run(_state(settings))
    assert asyncio.run(passwords.matches(user.password_hash, NEW))
    assert user.failed_logins == 0 and user.locked_until is None  # the lock-out ends with it
    assert all(r.used_at is not None for r in resets)
    assert actions[-1] == "conference.user.password_changed"

    # A refused password changes nothing and says why.
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert cli.main(["user", "reset-password", EMAIL, "--password-stdin"]) == 2
    assert "error: password: Use at least 12 characters" in capsys.readouterr().err
    assert asyncio.run(_state(settings))[0].password_hash == user.password_hash


def test_reset_password_at_a_prompt_asks_twice(
    env: None,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    asyncio.run(_make(settings))
    typed = iter([NEW, NEW + " but different"])
    monkeypatch.setattr(cli_users.getpass, "getpass", lambda prompt="": next(typed))
    assert cli.main(["user", "reset-password", EMAIL, "--prompt"]) == 2
    assert "the two passwords are not the same" in capsys.readouterr().err
    typed = iter([NEW, NEW])
    assert cli.main(["user", "reset-password", EMAIL, "--prompt"]) == 0
    assert asyncio.run(passwords.matches(asyncio.run(_state(settings))[0].password_hash, NEW))


def test_reset_password_refuses_an_unknown_or_disabled_account_and_a_password_on_the_command_line(
    env: None, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_make(settings, "gone@example.org", disabled=True))
    assert cli.main(["user", "reset-password", "nobody@example.org"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == "error: No console account has the email address nobody@example.org."
    assert "Traceback" not in err

    assert cli.main(["user", "reset-password", "gone@example.org"]) == 1
    assert "is disabled" in capsys.readouterr().err
    _user, resets, actions = asyncio.run(_state(settings, "gone@example.org"))
    assert resets == [] and "conference.password_reset.issued" not in actions

    # There is no way to give the password as an argument.
    with pytest.raises(SystemExit) as exit_:
        cli.main(["user", "reset-password", EMAIL, "--password", NEW])
    assert exit_.value.code == 2
    with pytest.raises(SystemExit):
        cli.main(["user", "reset-password", EMAIL, "--prompt", "--password-stdin"])  # one way or the other
