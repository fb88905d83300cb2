"""Console accounts: email + password sign-in, lock-out, TOTP, password reset by email, users and API tokens.

The app runs in-process with its mail worker sending to a real SMTP server (aiosmtpd); `conference user add` runs
as the command line does.
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pyotp
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from conference import accounts
from conference.core.audit import Actor
from conference.core.db import Database
from conference.core.models import ApiToken, AuditEntry, UserAccount, utcnow
from conference.server import cli
from conference.server.app import create_app
from tests.support import Mailbox, body_of, csrf, make_settings, running_app, smtp_env

PASSWORD = "plain four word passphrase"
ORGANISER_EMAIL = "Ada.Organiser@example.org"


async def post_form(
    client: httpx.AsyncClient, page: str, action: str, data: dict[str, str]
) -> httpx.Response:
    token = csrf((await client.get(page)).text)
    return await client.post(action, data={**data, "csrf_token": token})


async def browse(client: httpx.AsyncClient, path: str) -> httpx.Response:
    """A page as a browser asks for it (a signed-out browser is sent to /login rather than told 401)."""
    return await client.get(path, headers={"accept": "text/html"})


async def make_user(
    database: Database,
    settings: Any,
    email: str = ORGANISER_EMAIL,
    role: str = "organiser",
    password: str | None = PASSWORD,
) -> UserAccount:
    async with database.transaction() as db:
        user = await accounts.add_user(db, settings, email=email, role=role, actor=Actor("cli"), invite=False)
        if password is not None:
            await accounts.set_password(db, user, password, actor=Actor("cli"))
    return user


async def login(
    client: httpx.AsyncClient, email: str, password: str, next_: str = "/console"
) -> httpx.Response:
    return await post_form(client, "/login", "/login", {"email": email, "password": password, "next": next_})


async def user_row(database: Database, email: str) -> UserAccount:
    async with database.read() as db:
        user = await accounts.find_user(db, email)
    assert user is not None
    return user


async def actions(database: Database, prefix: str) -> list[AuditEntry]:
    async with database.read() as db:
        rows = await db.execute(
            sa.select(AuditEntry)
            .where(AuditEntry.action.startswith(prefix))  # type: ignore[attr-defined]
            .order_by(AuditEntry.id)
        )  # type: ignore[arg-type]
        return list(rows.scalars())


@pytest.fixture
async def app_client(
    database_url: str, tickets: dict[str, Any], smtp_server: Controller, smtp_port: int
) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(database_url, **smtp_env(smtp_port)) as client:
        yield client


# --- signing in ---------------------------------------------------------------------------------------------


async def test_password_sign_in_opens_the_console_and_signs_out(
    app_client: httpx.AsyncClient, database: Database, settings: Any
) -> None:
    await make_user(database, settings)
    response = await login(app_client, "  ada.organiser@EXAMPLE.org ", PASSWORD, "/console/registrations")
    assert response.status_code == 303 and response.headers["location"] == "/console/registrations"
    cookie = response.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert (await browse(app_client, "/console/registrations")).status_code == 200
    assert (await browse(app_client, "/console/users")).status_code == 200

    out = await post_form(app_client, "/console/account", "/logout", {})
    assert out.status_code == 303
    assert (await browse(app_client, "/console/registrations")).status_code == 303  # back to /login

    succeeded = await actions(database, "conference.login.succeeded")
    assert [e.actor for e in succeeded] == [f"organiser:{ORGANISER_EMAIL}"]
    assert all(PASSWORD not in str(e.data) for e in await actions(database, "conference."))


async def test_wrong_password_and_unknown_email_get_the_same_answer(
    app_client: httpx.AsyncClient, database: Database, settings: Any
) -> None:
    await make_user(database, settings)
    wrong = await login(app_client, ORGANISER_EMAIL, "not the password at all")
    unknown = await login(app_client, "nobody@example.org", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    message = accounts.BAD_LOGIN.replace("'", "&#39;")
    assert message in wrong.text and message in unknown.text
    assert "console" not in app_client.cookies  # no session was started
    failed = await actions(database, "conference.login.failed")
    assert len(failed) == 2 and all("nobody@example.org" not in str(e.data) + e.subject for e in failed)


async def test_missing_fields_are_named(app_client: httpx.AsyncClient) -> None:
    response = await login(app_client, "", "")
    assert response.status_code == 422
    assert 'href="#email"' in response.text and 'href="#password"' in response.text


async def test_login_without_the_csrf_token_is_refused(
    app_client: httpx.AsyncClient, database: Database, settings: Any
) -> None:
    await make_user(database, settings)
    response = await app_client.post("/login", data={"email": ORGANISER_EMAIL, "password": PASSWORD})
    assert response.status_code == 403
    assert "console" not in app_client.cookies


async def test_repeated_failures_lock_the_account_even_with_the_right_password(
    app_client: httpx.AsyncClient, database: Database, settings: Any
) -> None:
    await make_user(database, settings)
    for _ in range(accounts.MAX_FAILURES):
        assert (await login(app_client, ORGANISER_EMAIL, "wrong password guess")).status_code == 401
    locked = await user_row(database, ORGANISER_EMAIL)
    assert locked.locked_until is not None and locked.locked_until > utcnow() + timedelta(minutes=14)
    assert (await login(app_client, ORGANISER_EMAIL, PASSWORD)).status_code == 401

    async with database.transaction() as db:  # the lock-out has run its course
        user = await db.get(UserAccount, locked.id)
        assert user is not None
        user.locked_until = utcnow() - timedelta(seconds=1)
    assert (await login(app_client, ORGANISER_EMAIL, PASSWORD)).status_code == 303
    assert (await user_row(database, ORGANISER_EMAIL)).failed_logins == 0
    assert any(e.data.get("locked") for e in await actions(database, "conference.login.failed"))


async def test_staff_reach_their_account_and_the_scanner_but_not_the_console(
    app_client: httpx.AsyncClient, database: Database, settings: Any
) -> None:
    await make_user(database, settings, email="door@example.org", role="staff")
    response = await login(app_client, "door@example.org", PASSWORD, "/console/registrations")
    assert response.headers["location"] == "/scan"
    assert (await browse(app_client, "/console/account")).status_code == 200
    assert (await browse(app_client, "/console/users")).status_code == 403
    assert (await browse(app_client, "/console/registrations")).status_code == 403


async def test_disabling_an_account_ends_its_sessions(
    app_client: httpx.AsyncClient, database: Database, settings: Any
) -> None:
    user = await make_user(database, settings, email="door@example.org", role="staff")
    await login(app_client, "door@example.org", PASSWORD)
    assert (await browse(app_client, "/console/account")).status_code == 200
    async with database.transaction() as db:
        await accounts.set_disabled(db, user.id, True, actor=Actor("organiser", "someone"))
    assert (await browse(app_client, "/console/account")).status_code == 303
    assert (await login(app_client, "door@example.org", PASSWORD)).status_code == 401


# --- two-factor ---------------------------------------------------------------------------------------------


async def test_totp_is_set_up_then_required_and_a_code_works_once(
    app_client: httpx.AsyncClient, database: Database, settings: Any
) -> None:
    await make_user(database, settings)
    await login(app_client, ORGANISER_EMAIL, PASSWORD)
    started = await post_form(app_client, "/console/account", "/console/account/totp", {})
    assert started.status_code == 200 and 'src="data:image/svg+xml;base64,' in started.text
    secret = re.search(r'<code id="totp-key">([A-Z2-7]+)</code>', started.text)
    assert secret
    totp = pyotp.TOTP(secret.group(1))
    stored = await user_row(database, ORGANISER_EMAIL)
    assert stored.totp_secret and secret.group(1) not in stored.totp_secret  # encrypted at rest

    wrong = await post_form(
        app_client, "/console/account", "/console/account/totp/confirm", {"code": "000000"}
    )
    assert wrong.status_code == 422 and 'href="#code"' in wrong.text
    confirmed = await post_form(
        app_client, "/console/account", "/console/account/totp/confirm", {"code": totp.now()}
    )
    assert confirmed.status_code == 303 and "done=totp_on" in confirmed.headers["location"]
    assert (await browse(app_client, "/console/account")).status_code == 200  # this browser stayed signed in

    await post_form(app_client, "/console/account", "/logout", {})
    first = await login(app_client, ORGANISER_EMAIL, PASSWORD, "/console/users")
    assert first.status_code == 303 and first.headers["location"].endswith("/login/code")
    assert (await browse(app_client, "/console/users")).status_code == 303  # a password alone opens nothing

    bad = await post_form(
        app_client, "/login/code", "/login/code", {"code": "123456" if totp.now() != "123456" else "654321"}
    )
    assert bad.status_code == 401
    # The step confirmed at set-up is spent: the next one is needed. Use the one after the current step.
    code = totp.at(utcnow() + timedelta(seconds=30))
    good = await post_form(app_client, "/login/code", "/login/code", {"code": code})
    assert good.status_code == 303 and good.headers["location"] == "/console/users"
    assert (await browse(app_client, "/console/users")).status_code == 200

    # The same code again (a replay, e.g. shoulder-surfed) is refused.
    await post_form(app_client, "/console/account", "/logout", {})
    await login(app_client, ORGANISER_EMAIL, PASSWORD)
    replay = await post_form(app_client, "/login/code", "/login/code", {"code": code})
    assert replay.status_code == 401
    assert (await browse(app_client, "/console/users")).status_code == 303


# --- password reset -----------------------------------------------------------------------------------------


async def test_reset_by_email_sets_a_new_password_once_and_ends_other_sessions(
    app_client: httpx.AsyncClient, database: Database, settings: Any, mailbox: Mailbox
) -> None:
    await make_user(database, settings)
    other_browser = httpx.AsyncClient(transport=app_client._transport, base_url=str(app_client.base_url))
    async with other_browser:
        await login(other_browser, ORGANISER_EMAIL, PASSWORD)
        assert (await browse(other_browser, "/console/users")).status_code == 200

        unknown = await post_form(
            app_client, "/password/forgot", "/password/forgot", {"email": "nobody@example.org"}
        )
        known = await post_form(
            app_client, "/password/forgot", "/password/forgot", {"email": ORGANISER_EMAIL}
        )
        assert unknown.status_code == known.status_code == 200
        assert re.sub(r'value="[^"]+"', "", unknown.text) == re.sub(r'value="[^"]+"', "", known.text)
        [message] = await mailbox.wait_for(1)
        assert message["To"] == ORGANISER_EMAIL
        link = re.search(r"http://testserver(/password/reset/pr_[\w-]+)", body_of(message))
        assert link
        path = link.group(1)

        mismatch = await post_form(
            app_client,
            path,
            path,
            {"password": "a brand new passphrase", "password_again": "something else entirely"},
        )
        assert mismatch.status_code == 422 and 'href="#password_again"' in mismatch.text
        short = await post_form(app_client, path, path, {"password": "short", "password_again": "short"})
        assert short.status_code == 422 and "at least 12 characters" in short.text
        done = await post_form(
            app_client,
            path,
            path,
            {"password": "a brand new passphrase", "password_again": "a brand new passphrase"},
        )
        assert done.status_code == 303
        assert (await browse(app_client, "/console/users")).status_code == 200  # signed in by the reset
        assert (await browse(other_browser, "/console/users")).status_code == 303  # the other browser is out

        assert (await app_client.get(path)).status_code == 404  # used once
        assert (await login(app_client, ORGANISER_EMAIL, PASSWORD)).status_code == 401
        assert (await login(app_client, ORGANISER_EMAIL, "a brand new passphrase")).status_code == 303
    assert len(mailbox.messages) == 1  # nothing was sent for the unknown address


async def test_reset_links_expire_and_requests_are_capped(database: Database, settings: Any) -> None:
    user = await make_user(database, settings)
    async with database.transaction() as db:
        sent = [await accounts.start_reset(db, settings, user) for _ in range(accounts.RESETS_PER_HOUR + 2)]
    assert sum(r is not None for r in sent) == accounts.RESETS_PER_HOUR
    first = sent[0]
    assert first is not None
    async with database.transaction() as db:
        row = await db.get(type(first), first.id)
        assert row is not None
        row.expires_at = utcnow() - timedelta(seconds=1)
    with pytest.raises(Exception, match="expired"):
        await accounts.complete_reset(
            database, accounts.reset_token(settings, first.id), "a brand new passphrase"
        )


# --- users and tokens ---------------------------------------------------------------------------------------


async def test_organisers_invite_people_and_revoke_tokens(
    app_client: httpx.AsyncClient, database: Database, settings: Any, mailbox: Mailbox
) -> None:
    await make_user(database, settings)
    await login(app_client, ORGANISER_EMAIL, PASSWORD)
    bad = await post_form(
        app_client, "/console/users", "/console/users", {"email": "not-an-email", "role": "staff"}
    )
    assert bad.status_code == 422 and 'href="#email"' in bad.text
    added = await post_form(
        app_client,
        "/console/users",
        "/console/users",
        {"email": "door@example.org", "role": "staff", "name": "Door One"},
    )
    assert added.status_code == 303
    [invite] = await mailbox.wait_for(1)
    assert invite["To"] == "door@example.org" and "/password/reset/pr_" in body_of(invite)

    made = await post_form(
        app_client, "/console/users", "/console/tokens", {"token_name": "Door 1", "token_role": "staff"}
    )
    token = re.search(r'<code id="new-token">(ct_[\w-]+)</code>', made.text)
    assert made.status_code == 200 and token
    assert (await browse(app_client, "/console/users")).text.count(token.group(1)) == 0  # shown once only
    bearer = {"authorization": f"Bearer {token.group(1)}"}
    async with database.read() as db:
        row = (await db.execute(sa.select(ApiToken).where(ApiToken.name == "Door 1"))).scalar_one()
    assert row.created_by == f"organiser:{ORGANISER_EMAIL}"
    assert (await app_client.get("/api/v1/checkins/door-list", headers=bearer)).status_code == 200

    revoked = await post_form(app_client, "/console/users", f"/console/tokens/{row.id}/revoke", {})
    assert revoked.status_code == 303
    assert (await app_client.get("/api/v1/checkins/door-list", headers=bearer)).status_code == 401
    assert [e.action for e in await actions(database, "conference.token.")] == [
        "conference.token.created",
        "conference.token.revoked",
    ]


async def test_an_organiser_cannot_disable_themselves(
    app_client: httpx.AsyncClient, database: Database, settings: Any
) -> None:
    me = await make_user(database, settings)
    await login(app_client, ORGANISER_EMAIL, PASSWORD)
    response = await post_form(app_client, "/console/users", f"/console/users/{me.id}/disable", {})
    assert response.status_code == 409
    assert (await user_row(database, ORGANISER_EMAIL)).disabled_at is None


async def test_session_cookie_is_secure_behind_https(
    database_url: str, tickets: dict[str, Any], database: Database, settings: Any
) -> None:
    await make_user(database, settings)
    app = create_app(make_settings(database_url, CONFERENCE_BASE_URL="https://conference.example"))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="https://conference.example"
        ) as client,
    ):
        response = await login(client, ORGANISER_EMAIL, PASSWORD)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie


# --- the command line ---------------------------------------------------------------------------------------


def test_user_add_prints_an_invitation_or_takes_a_password(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CONFERENCE_DATABASE_URL", database_url)
    assert cli.main(["user", "add", "first@example.org", "--role", "organiser"]) == 0
    assert re.search(r"/password/reset/pr_[\w-]+", capsys.readouterr().out)

    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    assert cli.main(["user", "add", "door@example.org", "--role", "staff", "--password-stdin"]) == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert cli.main(["user", "add", "weak@example.org", "--role", "staff", "--password-stdin"]) == 2
    assert "at least 12 characters" in capsys.readouterr().err
    assert cli.main(["user", "add", "FIRST@example.org", "--role", "staff"]) == 2
    assert "already an account" in capsys.readouterr().err


async def test_login_and_reset_requests_are_rate_limited(database_url: str, tickets: dict[str, Any]) -> None:
    async with running_app(database_url, CONFERENCE_RATE_LIMIT="2/minute") as client:
        answers = [
            (await login(client, "someone@example.org", "a wrong password")).status_code for _ in range(3)
        ]
        assert answers == [401, 401, 429]
        forgot = [
            (
                await post_form(client, "/password/forgot", "/password/forgot", {"email": "a@example.org"})
            ).status_code
            for _ in range(3)
        ]
        assert forgot == [200, 200, 429]
