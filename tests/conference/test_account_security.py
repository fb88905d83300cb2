"""Console sign-in after the outside security review (issue 15).

M3: a console session lives on the server (a `console_session` row); the cookie carries only its random key, so
signing out, signing in again, a password change, turning two-factor on, "sign out every other browser",
disabling the account and revoking an API token end it for every copy of the cookie; a session ends at its
expiry whatever the cookie says, and expired rows are purged.

M4: the argon2 check runs on a thread, never on the event loop, and with no transaction open (the request's own
transactions are followed through the engines' events, per asyncio task, and a concurrent write must get
through while a check is held); failures are counted atomically however many arrive at once. Wrong current
passwords on the password-change and two-factor-off forms count towards the same lock-out.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pyotp
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from sqlalchemy import event
from sqlmodel import col
from starlette.applications import Starlette

from conference import accounts
from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.migrate import alembic_config, upgrade
from conference.core.models import AuditEntry, UserAccount, utcnow
from conference.core.security import hash_token
from conference.core.settings import Settings
from conference.server.app import create_app
from tests.support import BASE_URL, HTML, PATIENCE, csrf, database_dump, eventually, sign_in, staff_token

PASSWORD = "plain four word passphrase"
NEW_PASSWORD = "another four word passphrase"
EMAIL = "grace.organiser@example.org"
GATE_TIMEOUT = 10.0  # seconds a held check waits for the test (on today's code it blocks the loop that long)


# --- helpers --------------------------------------------------------------------------------------------------


@dataclass
class App:
    app: Starlette
    client: httpx.AsyncClient

    def browser(self, cookies: dict[str, str] | None = None) -> httpx.AsyncClient:
        """Another browser on the same app (optionally holding copies of some cookies)."""
        return httpx.AsyncClient(transport=self.client._transport, base_url=BASE_URL, cookies=cookies or {})

    @property
    def database(self) -> Database:
        database: Database = self.app.state.database
        return database


@pytest.fixture
async def site(settings: Settings, tickets: dict[str, Any]) -> AsyncIterator[App]:
    """The app in-process with its lifespan running (the test may reach its Database), and a client."""
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client,
    ):
        yield App(app, client)


async def make_user(
    database: Database, settings: Settings, email: str = EMAIL, role: str = "organiser"
) -> UserAccount:
    async with database.transaction() as db:
        user = await accounts.add_user(db, settings, email=email, role=role, actor=Actor("cli"), invite=False)
        await accounts.set_password(db, user, PASSWORD, actor=Actor("cli"))
    return user


async def post_form(
    client: httpx.AsyncClient, page: str, action: str, data: dict[str, str]
) -> httpx.Response:
    token = csrf((await client.get(page)).text)
    return await client.post(action, data={**data, "csrf_token": token})


async def login(client: httpx.AsyncClient, email: str = EMAIL, password: str = PASSWORD) -> httpx.Response:
    return await post_form(
        client, "/login", "/login", {"email": email, "password": password, "next": "/console"}
    )


async def signed_in(client: httpx.AsyncClient, path: str = "/console/account") -> bool:
    """Whether the browser gets a console page (not sent to /login)."""
    response = await client.get(path, headers=HTML)
    assert response.status_code in (200, 303), response.status_code
    return response.status_code == 200


async def reads_api(client: httpx.AsyncClient) -> bool:
    """Whether the browser's cookie reads the JSON API (a signed-in browser may)."""
    response = await client.get("/api/v1/checkins/door-list")
    assert response.status_code in (200, 401), response.status_code
    return response.status_code == 200


def copy_of(client: httpx.AsyncClient) -> dict[str, str]:
    """The session cookie, as someone who copied it would hold it."""
    return {"console": client.cookies["console"]}


def cookie_payload(client: httpx.AsyncClient) -> dict[str, Any]:
    """What Starlette's signed session cookie holds (base64 JSON before the signature)."""
    data = client.cookies["console"].split(".")[0]
    payload: dict[str, Any] = json.loads(base64.b64decode(data + "=" * (-len(data) % 4)))
    return payload


async def user_row(database: Database, email: str = EMAIL) -> UserAccount:
    async with database.read() as db:
        user = await accounts.find_user(db, email)
    assert user is not None
    return user


async def audit_entries(database: Database, action: str) -> list[AuditEntry]:
    async with database.read() as db:
        rows = await db.execute(
            sa.select(AuditEntry).where(col(AuditEntry.action) == action).order_by(col(AuditEntry.id))
        )
        return list(rows.scalars())


async def session_rows(database: Database) -> list[dict[str, Any]]:
    async with database.read() as db:
        result = await db.execute(sa.text("SELECT * FROM console_session ORDER BY created_at"))
        return [dict(row._mapping) for row in result]


async def set_up_totp(client: httpx.AsyncClient) -> pyotp.TOTP:
    started = await post_form(client, "/console/account", "/console/account/totp", {})
    secret = re.search(r'<code id="totp-key">([A-Z2-7]+)</code>', started.text)
    assert secret, started.text
    totp = pyotp.TOTP(secret.group(1))
    confirmed = await post_form(
        client, "/console/account", "/console/account/totp/confirm", {"code": totp.now()}
    )
    assert confirmed.status_code == 303 and "done=totp_on" in confirmed.headers["location"]
    return totp


# --- M3: sessions end on the server -----------------------------------------------------------------------------


async def test_signing_out_ends_the_session_for_every_copy_of_the_cookie(
    site: App, database: Database, settings: Settings
) -> None:
    await make_user(database, settings)
    assert (await login(site.client)).status_code == 303
    async with site.browser(copy_of(site.client)) as thief:
        assert await signed_in(thief) and await reads_api(thief)  # a copy works while the session lives

        out = await post_form(site.client, "/console/account", "/logout", {})
        assert out.status_code == 303
        assert not await signed_in(site.client)
        assert not await signed_in(thief), "a copied cookie still works after signing out"
        assert not await reads_api(thief)
    assert len(await audit_entries(database, "conference.logout")) == 1
    [row] = await session_rows(database)
    assert row["ended_at"] is not None


async def test_an_api_token_sign_in_is_a_server_side_session_too(site: App, database: Database) -> None:
    token = await staff_token(database)
    await sign_in(site.client, token)
    assert await signed_in(site.client, "/scan")
    async with site.browser(copy_of(site.client)) as thief:
        await post_form(site.client, "/console/account", "/logout", {})
        assert not await signed_in(thief, "/scan"), (
            "a copied door device cookie still works after signing out"
        )
        assert not await reads_api(thief)

    # Revoking the token ends the browsers signed in with it, on the server as well.
    await sign_in(site.client, token)
    assert await reads_api(site.client)
    async with site.browser() as organiser:
        await make_user(database, site.app.state.settings)
        await login(organiser)
        async with database.read() as db:
            token_id = (
                await db.execute(
                    sa.text("SELECT id FROM api_token WHERE token_hash = :h"), {"h": hash_token(token)}
                )
            ).scalar_one()
        revoked = await post_form(
            organiser, "/console/users", f"/console/tokens/{uuid.UUID(str(token_id))}/revoke", {}
        )
        assert revoked.status_code == 303
    assert not await reads_api(site.client)
    rows = [r for r in await session_rows(database) if r["token_hash"] == hash_token(token)]
    assert len(rows) == 2 and all(r["ended_at"] is not None for r in rows)


async def test_the_cookie_carries_only_a_random_session_key(
    site: App, database: Database, settings: Settings
) -> None:
    user = await make_user(database, settings)
    await login(site.client)
    payload = cookie_payload(site.client)
    assert set(payload) == {"sid"} and payload["sid"].startswith("cs_") and len(payload["sid"]) > 40
    assert str(user.id) not in json.dumps(payload)
    dump = await database_dump(database)
    assert payload["sid"] not in dump  # kept hashed
    [row] = await session_rows(database)
    assert row["key_hash"] == hash_token(payload["sid"]) and uuid.UUID(str(row["user_id"])) == user.id
    assert row["expires_at"] is not None and row["ended_at"] is None


async def test_signing_in_again_ends_the_browsers_previous_session(
    site: App, database: Database, settings: Settings
) -> None:
    await make_user(database, settings)
    await login(site.client)
    async with site.browser(copy_of(site.client)) as old_copy:
        assert (await login(site.client)).status_code == 303
        assert await signed_in(site.client)
        assert not await signed_in(old_copy), "the session a sign-in replaced still works"


async def test_a_password_change_keeps_this_browser_and_ends_every_other_session(
    site: App, database: Database, settings: Settings
) -> None:
    await make_user(database, settings)
    async with site.browser() as other:
        await login(site.client)
        await login(other)
        async with site.browser(copy_of(site.client)) as thief:
            changed = await post_form(
                site.client,
                "/console/account",
                "/console/account/password",
                {"current_password": PASSWORD, "password": NEW_PASSWORD, "password_again": NEW_PASSWORD},
            )
            assert changed.status_code == 303 and "done=password" in changed.headers["location"]
            assert await signed_in(site.client)
            assert not await signed_in(other)
            assert not await signed_in(thief), (
                "a copy of this browser's old cookie survived the password change"
            )
    assert (await login(site.client, password=NEW_PASSWORD)).status_code == 303


async def test_turning_totp_on_and_signing_out_everywhere_end_the_other_sessions(
    site: App, database: Database, settings: Settings
) -> None:
    await make_user(database, settings)
    async with site.browser() as other:
        await login(site.client)
        await login(other)
        old_copy = copy_of(site.client)
        totp = await set_up_totp(site.client)
        assert await signed_in(site.client)
        assert not await signed_in(other)
        async with site.browser(old_copy) as thief:
            assert not await signed_in(thief)

        # Sign the other browser in again (password, then a code), then sign it out from this one.
        assert (await login(other)).headers["location"].endswith("/login/code")
        code = totp.at(utcnow() + timedelta(seconds=30))
        assert (await post_form(other, "/login/code", "/login/code", {"code": code})).status_code == 303
        assert await signed_in(other)
        async with site.browser(copy_of(site.client)) as thief:
            done = await post_form(site.client, "/console/account", "/console/account/sessions", {})
            assert done.status_code == 303
            assert await signed_in(site.client)
            assert not await signed_in(other)
            assert not await signed_in(thief)
    page = await site.client.get("/console/account", headers=HTML)
    assert "not signed in anywhere else" in page.text


async def test_disabling_an_account_ends_its_sessions_on_the_server(
    site: App, database: Database, settings: Settings
) -> None:
    user = await make_user(database, settings, email="door@example.org", role="staff")
    await login(site.client, "door@example.org")
    async with database.transaction() as db:
        await accounts.set_disabled(db, user.id, True, actor=Actor("organiser", "someone"))
    rows = await session_rows(database)
    assert rows and all(r["ended_at"] is not None for r in rows)
    async with database.transaction() as db:  # enabled again: the old sessions stay ended
        await accounts.set_disabled(db, user.id, False, actor=Actor("organiser", "someone"))
    assert not await signed_in(site.client)


async def test_a_session_ends_at_its_expiry_and_expired_rows_are_purged(
    site: App, database: Database, settings: Settings
) -> None:
    from conference.core.models import ConsoleSession

    await make_user(database, settings)
    await login(site.client)
    assert await signed_in(site.client)
    async with database.transaction() as db:
        await db.execute(sa.update(ConsoleSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert not await signed_in(site.client), "an expired session still works"
    async with site.browser() as other:
        await login(other)  # signing in purges rows past their expiry
    rows = await session_rows(database)
    assert len(rows) == 1 and rows[0]["ended_at"] is None


async def test_last_seen_is_noted_at_most_every_few_minutes(
    site: App, database: Database, settings: Settings
) -> None:
    from conference.core import console_sessions
    from conference.core.models import ConsoleSession

    async def last_seen() -> Any:
        async with database.read() as db:
            return (await db.execute(sa.select(ConsoleSession.last_seen_at))).scalar_one()

    async def set_last_seen(when: Any) -> None:
        async with database.transaction() as db:
            await db.execute(sa.update(ConsoleSession).values(last_seen_at=when))

    await make_user(database, settings)
    await login(site.client)
    await set_last_seen(utcnow() - console_sessions.SEEN_EVERY - timedelta(seconds=1))
    assert await signed_in(site.client)
    assert await last_seen() > utcnow() - timedelta(minutes=1)  # noted
    recent = utcnow() - timedelta(minutes=1)
    await set_last_seen(recent)
    assert await signed_in(site.client)
    assert await last_seen() == recent  # not written on every request


def test_migration_0011_goes_down_and_up_again(database_url: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(database_url), "0010")

    async def columns() -> tuple[set[str], set[str]]:
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(database_url)
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda sync: set(sa.inspect(sync).get_table_names()))
            user_columns = await conn.run_sync(
                lambda sync: {c["name"] for c in sa.inspect(sync).get_columns("user_account")}
            )
        await engine.dispose()
        return names, user_columns

    tables, user_columns = asyncio.run(columns())
    assert "console_session" not in tables and "session_version" in user_columns
    upgrade(database_url)
    tables, user_columns = asyncio.run(columns())
    assert "console_session" in tables and "session_version" not in user_columns


# --- M4: argon2 off the event loop, outside any transaction ------------------------------------------------------


class Transactions:
    """Which asyncio tasks hold a database transaction open, from the app's engines' own events."""

    def __init__(self, database: Database) -> None:
        self.open: dict[asyncio.Task[Any] | None, int] = {}
        for engine in {database.writer.sync_engine, database.reader.sync_engine}:
            event.listen(engine, "begin", self._begin)
            event.listen(engine, "commit", self._end)
            event.listen(engine, "rollback", self._end)

    def _task(self) -> asyncio.Task[Any] | None:
        try:
            return asyncio.current_task()
        except RuntimeError:
            return None

    def _begin(self, _conn: Any) -> None:
        task = self._task()
        self.open[task] = self.open.get(task, 0) + 1

    def _end(self, _conn: Any) -> None:
        task = self._task()
        self.open[task] = max(0, self.open.get(task, 0) - 1)


@dataclass
class Gate:
    """Stands in for argon2's checks (the real ones still run): notes the thread each ran on and how many
    transactions the request's task held meanwhile; the first verification waits until the test lets it go."""

    transactions: Transactions
    request_task: asyncio.Task[Any] | None = None
    verified_on: list[int] = field(default_factory=list)
    hashed_on: list[int] = field(default_factory=list)
    held: list[int] = field(default_factory=list)
    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real_verify, real_hash = PasswordHasher.verify, PasswordHasher.hash
        gate = self

        def verify(hasher: PasswordHasher, hash: str | bytes, password: str | bytes) -> bool:
            gate.verified_on.append(threading.get_ident())
            gate.held.append(gate.transactions.open.get(gate.request_task, 0))
            if not gate.entered.is_set():
                gate.entered.set()
                gate.release.wait(GATE_TIMEOUT)
            return real_verify(hasher, hash, password)

        def hash_(hasher: PasswordHasher, password: str | bytes, *, salt: bytes | None = None) -> str:
            gate.hashed_on.append(threading.get_ident())
            gate.held.append(gate.transactions.open.get(gate.request_task, 0))
            return real_hash(hasher, password, salt=salt)

        monkeypatch.setattr(PasswordHasher, "verify", verify)
        monkeypatch.setattr(PasswordHasher, "hash", hash_)


async def _write_while_held(database: Database, user_id: uuid.UUID) -> None:
    """A write to the account's own row, from another connection: it must not wait for the held check."""
    async with database.transaction() as db:
        await db.execute(
            sa.update(UserAccount).where(col(UserAccount.id) == user_id).values(name="Changed meanwhile")
        )


async def _held_request(
    site: App,
    database: Database,
    user_id: uuid.UUID,
    monkeypatch: pytest.MonkeyPatch,
    send: Callable[[], Any],
) -> tuple[Gate, httpx.Response]:
    """Send a request whose password check is held; meanwhile the app answers /healthz and the database takes a
    write to the account's row. Then let the check go and return the gate's notes and the answer."""
    gate = Gate(Transactions(site.database))
    gate.install(monkeypatch)
    task = asyncio.create_task(send())
    gate.request_task = task
    try:
        await eventually(gate.entered.is_set, what="the password check to start")
        health = await asyncio.wait_for(site.client.get("/healthz"), PATIENCE)
        assert health.status_code == 200
        await asyncio.wait_for(_write_while_held(database, user_id), PATIENCE)
    finally:
        gate.release.set()
    response: httpx.Response = await task
    return gate, response


async def test_sign_in_checks_the_password_off_the_event_loop_with_no_transaction_open(
    site: App, database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await make_user(database, settings)
    loop_thread = threading.get_ident()
    page = await site.client.get("/login")
    token = csrf(page.text)

    async def send() -> httpx.Response:
        return await site.client.post(
            "/login", data={"email": EMAIL, "password": PASSWORD, "next": "/console", "csrf_token": token}
        )

    gate, response = await _held_request(site, database, user.id, monkeypatch, send)
    assert gate.verified_on and loop_thread not in gate.verified_on, "argon2 ran on the event loop's thread"
    assert gate.held and set(gate.held) == {0}, f"transactions open during the check: {gate.held}"
    assert response.status_code == 303  # the row changed meanwhile, but not the password: still signed in
    assert await signed_in(site.client)


async def test_a_wrong_password_is_checked_off_the_loop_and_counted_after(
    site: App, database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await make_user(database, settings)
    loop_thread = threading.get_ident()
    token = csrf((await site.client.get("/login")).text)

    async def send() -> httpx.Response:
        return await site.client.post(
            "/login", data={"email": EMAIL, "password": "not the password", "next": "/", "csrf_token": token}
        )

    gate, response = await _held_request(site, database, user.id, monkeypatch, send)
    assert loop_thread not in gate.verified_on and set(gate.held) == {0}
    assert response.status_code == 401
    assert (await user_row(database)).failed_logins == 1


async def test_password_change_hashes_off_the_event_loop_with_no_transaction_open(
    site: App, database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await make_user(database, settings)
    await login(site.client)
    loop_thread = threading.get_ident()
    token = csrf((await site.client.get("/console/account")).text)

    async def send() -> httpx.Response:
        return await site.client.post(
            "/console/account/password",
            data={
                "current_password": PASSWORD,
                "password": NEW_PASSWORD,
                "password_again": NEW_PASSWORD,
                "csrf_token": token,
            },
        )

    gate, response = await _held_request(site, database, user.id, monkeypatch, send)
    assert response.status_code == 303, response.text
    assert loop_thread not in gate.verified_on, "the current password was checked on the event loop"
    assert gate.hashed_on and loop_thread not in gate.hashed_on, (
        "the new password was hashed on the event loop"
    )
    assert set(gate.held) == {0}, f"transactions open during argon2: {gate.held}"


async def test_concurrent_wrong_passwords_each_count_once_and_lock_once(
    site: App, database: Database, settings: Settings
) -> None:
    await make_user(database, settings)
    await make_user(database, settings, email="second@example.org")

    async def attempt(email: str, i: int) -> int:
        async with site.browser() as browser:
            return (await login(browser, email, f"wrong guess number {i}")).status_code

    answers = await asyncio.gather(*(attempt(EMAIL, i) for i in range(accounts.MAX_FAILURES - 1)))
    assert answers == [401] * (accounts.MAX_FAILURES - 1)
    row = await user_row(database)
    assert row.failed_logins == accounts.MAX_FAILURES - 1 and row.locked_until is None

    # Many more at once than the limit: exactly one of them locks the account; the rest count nothing more.
    many = await asyncio.gather(*(attempt("second@example.org", i) for i in range(accounts.MAX_FAILURES + 4)))
    assert set(many) == {401}
    second = await user_row(database, "second@example.org")
    assert second.locked_until is not None and second.locked_until > utcnow()
    failed = [
        e for e in await audit_entries(database, "conference.login.failed") if e.subject == str(second.id)
    ]
    assert len(failed) == accounts.MAX_FAILURES + 4
    assert sum(1 for e in failed if e.data.get("locked")) == 1


# --- wrong current passwords count towards the lock-out ----------------------------------------------------------


async def test_wrong_current_passwords_on_the_account_forms_count_towards_the_lock_out(
    site: App, database: Database, settings: Settings
) -> None:
    user = await make_user(database, settings)
    await login(site.client)
    await set_up_totp(site.client)

    wrong_change = await post_form(
        site.client,
        "/console/account",
        "/console/account/password",
        {"current_password": "a wrong guess", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD},
    )
    assert wrong_change.status_code == 422 and 'href="#current_password"' in wrong_change.text
    assert (await user_row(database)).failed_logins == 1
    wrong_off = await post_form(
        site.client,
        "/console/account",
        "/console/account/totp/disable",
        {"disable_password": "another guess"},
    )
    assert wrong_off.status_code == 422 and 'href="#disable_password"' in wrong_off.text
    assert (await user_row(database)).failed_logins == 2

    failed = [
        e for e in await audit_entries(database, "conference.login.failed") if e.subject == str(user.id)
    ]
    assert [e.data.get("reason") for e in failed] == ["current_password", "current_password"]

    # The same counter as signing in: two wrong sign-ins elsewhere, then one more wrong current password locks.
    async with site.browser() as other:
        for _ in range(2):
            assert (await login(other, password="a wrong sign-in")).status_code == 401
        assert (await user_row(database)).failed_logins == 4
        last = await post_form(
            site.client,
            "/console/account",
            "/console/account/password",
            {
                "current_password": "one guess too many",
                "password": NEW_PASSWORD,
                "password_again": NEW_PASSWORD,
            },
        )
        assert last.status_code in (303, 401)  # signed out: a browser (Accept: text/html) goes to /login
        locked = await user_row(database)
        assert locked.locked_until is not None and locked.locked_until > utcnow() + timedelta(minutes=14)
        # The browser that guessed its way into the lock-out is signed out; the right password opens nothing.
        assert not await signed_in(site.client)
        assert (await login(other)).status_code == 401
    assert any(
        e.data.get("locked") and e.data.get("reason") == "current_password"
        for e in await audit_entries(database, "conference.login.failed")
    )


async def test_a_locked_account_refuses_the_right_current_password_too(
    site: App, database: Database, settings: Settings
) -> None:
    user = await make_user(database, settings)
    await login(site.client)
    async with database.transaction() as db:
        row = await db.get(UserAccount, user.id)
        assert row is not None
        row.locked_until = utcnow() + timedelta(minutes=10)
    refused = await post_form(
        site.client,
        "/console/account",
        "/console/account/password",
        {"current_password": PASSWORD, "password": NEW_PASSWORD, "password_again": NEW_PASSWORD},
    )
    assert refused.status_code == 422 and "locked" in refused.text
    assert (await user_row(database)).password_hash == user.password_hash


async def test_the_right_current_password_turns_two_factor_off(
    site: App, database: Database, settings: Settings
) -> None:
    await make_user(database, settings)
    await login(site.client)
    await set_up_totp(site.client)
    off = await post_form(
        site.client, "/console/account", "/console/account/totp/disable", {"disable_password": PASSWORD}
    )
    assert off.status_code == 303 and "done=totp_off" in off.headers["location"]
    row = await user_row(database)
    assert row.totp_enabled_at is None and row.failed_logins == 0
