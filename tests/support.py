"""What the test suites share, apart from fixtures (those are in the conftest.py files):

- the skip/force rules: PostgreSQL and chromium tests skip with a reason when those are missing, unless
  CONFERENCE_REQUIRE_POSTGRES=1 / CONFERENCE_REQUIRE_BROWSER=1 (set by .ci/run), which turn the skip into a failure;
- settings and the app in-process, fresh databases per test, and live servers (`conference serve` in a process);
- polling: `eventually` (async) and `wait_until` (blocking), which wait for an event with a generous deadline
  instead of asserting that something happened within a short time;
- acting as a user over HTTP: tokens, signing in, CSRF, registering, submitting a proposal, scanning a badge;
- mail: a real SMTP server's mailbox, the outbox, and an email's text;
- reading what the app made: PDFs, rasters and QR codes, the routes of an app.

Test data (rows and request bodies) is made by tests/factories.py.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager, suppress
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlmodel import SQLModel, col
from starlette.config import Config
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from badges.codes import BadgeSigner
from conference.core.db import Database
from conference.core.models import OutboxEmail, Registration, Status
from conference.core.settings import Settings, load_settings
from conference.mail import mailtext
from conference.server.app import create_app
from conference.web.auth import create_api_token
from tests.factories import proposal_body, registration_body
from tests.stripe_fake import FakeStripe, event_body, sign

if TYPE_CHECKING:  # imported where used: the suites that need them are the only ones that pay for them
    import zxingcpp
    from PIL import Image
    from playwright.sync_api import Page

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
        import playwright  # noqa: F401  (only whether it is installed)
    except ImportError:
        skip_or_fail("playwright is not installed (pip install -e '.[test]')", "CONFERENCE_REQUIRE_BROWSER")


KIND = os.environ.get("CONFERENCE_TEST_DATABASE", "sqlite")  # the suite's database: sqlite or postgresql
SECRET_KEY = "test-secret-key-that-is-long-enough-0123456789"
BASE_URL = "http://testserver"  # make_settings' CONFERENCE_BASE_URL: the host emailed links point at


# --- settings and the app in-process ----------------------------------------------------------------------------


def make_settings(database_url: str, **env: str) -> Settings:
    return load_settings(
        Config(
            environ={
                "CONFERENCE_DATABASE_URL": database_url,
                "CONFERENCE_SECRET_KEY": SECRET_KEY,
                "CONFERENCE_BASE_URL": BASE_URL,
                "CONFERENCE_RATE_LIMIT": "",
                **env,
            }
        )
    )


@asynccontextmanager
async def running_app(database_url: str, **env: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan (engines, mail worker) running, and a client that talks to it in-process."""
    app = create_app(make_settings(database_url, **env))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client,
    ):
        yield client


def app_routes(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, full path template) of every route, walking into mounts; static mounts yield (MOUNT, path)."""
    for route in routes:
        if isinstance(route, Mount):
            if isinstance(route.app, StaticFiles):
                yield "MOUNT", prefix + route.path
            else:
                yield from app_routes(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            for method in sorted((route.methods or set()) - {"HEAD"}):
                yield method, prefix + route.path
        else:
            raise TypeError(f"unexpected route type {type(route).__name__} at {prefix}{route}")


# --- databases --------------------------------------------------------------------------------------------------


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
        "CONFERENCE_SECRET_KEY": SECRET_KEY,
        "CONFERENCE_BASE_URL": base,
        "CONFERENCE_RATE_LIMIT": "",
        **(env or {}),
    }
    with ExitStack() as files:  # the log file, closed once the server has stopped
        log = files.enter_context(open(log_path, "wb")) if log_path else subprocess.DEVNULL
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


# --- polling ----------------------------------------------------------------------------------------------------

PATIENCE = 30.0  # seconds: how long a test waits for something that takes milliseconds when all is well


async def eventually(
    check: Callable[[], bool] | Callable[[], Awaitable[bool]], timeout: float = PATIENCE, what: str = "it"
) -> None:
    """Wait, yielding to the event loop, until `check()` is true; fail after `timeout` seconds.

    For an event the test expects: the deadline is generous (a busy 2-core CI machine must not fail the test),
    so it never stands for "fast enough". A test of speed measures something else (a count, an order)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


def wait_until(check: Callable[[], bool], timeout: float = PATIENCE, what: str = "it") -> None:
    """`eventually` for code outside an event loop: blocks, polling `check()`, until it is true."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


# --- acting as a user over HTTP ---------------------------------------------------------------------------------

HTML = {"accept": "text/html"}


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def organiser_token(database: Database) -> str:
    async with database.transaction() as db:
        return await create_api_token(db, role="organiser", name="Test organiser")


async def staff_token(database: Database) -> str:
    async with database.transaction() as db:
        return await create_api_token(db, role="staff", name="Door staff")


def csrf(html: str) -> str:
    """The CSRF token of a page's form."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


async def try_sign_in(client: httpx.AsyncClient, token: str) -> httpx.Response:
    """Post the sign-in form with an API token; the answer, whatever it is."""
    page = await client.get("/login")
    return await client.post(
        "/login", data={"token": token, "csrf_token": csrf(page.text), "next": "/console"}
    )


async def sign_in(client: httpx.AsyncClient, token: str) -> httpx.Response:
    """Sign the client in with an API token (its session cookie is kept); the sign-in must succeed."""
    response = await try_sign_in(client, token)
    assert response.status_code in (200, 303), response.text
    return response


async def register(client: httpx.AsyncClient, ticket: Any, **overrides: Any) -> dict[str, Any]:
    """Register a delegate (registration_body with `overrides`): the 201 answer, plus the "email" it was for."""
    body = registration_body(ticket, **overrides)
    response = await client.post("/api/v1/registrations", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    result["email"] = body["email"]
    return result


async def book_seat(client: httpx.AsyncClient, person: dict[str, Any], session_id: Any) -> str:
    """Book `person` (a registration as the API answered it) a seat in a workshop with their own link: "booked" or
    "waitlisted"."""
    response = await client.post(
        f"/api/v1/registrations/{person['id']}/sessions",
        json={"session_id": str(session_id)},
        headers=bearer(person["manage_token"]),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["status"])


async def post_registration(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    """Post a whole registration body (see tests/factories.py); the 201 answer."""
    response = await client.post("/api/v1/registrations", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def submit(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    """Submit a proposal to the call for talks (proposal_body with `overrides`): the 201 answer."""
    response = await client.post("/api/v1/proposals", json=proposal_body(**overrides))
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def code_for(settings: Settings, person: dict[str, Any], version: int = 1) -> str:
    """The signed badge code of a registration (a dict with its "reference")."""
    return BadgeSigner.from_settings(settings).code_for(person["reference"], version)


async def scan(
    client: httpx.AsyncClient, headers: dict[str, str], code: str, list_: str = "door", device: str = "door-a"
) -> httpx.Response:
    """A door scanner's check-in of a badge code."""
    return await client.post(
        "/api/v1/checkins", json={"code": code, "list": list_, "device": device}, headers=headers
    )


# --- what the database holds ------------------------------------------------------------------------------------


async def count_rows(database: Database, model: Any) -> int:
    async with database.read() as db:
        return int((await db.execute(sa.select(sa.func.count()).select_from(model))).scalar_one())


async def database_dump(database: Database) -> str:
    """Every row of every table, as text: for checking a secret is stored nowhere."""
    chunks = []
    async with database.read() as db:
        for table in SQLModel.metadata.sorted_tables:
            chunks.append(repr((await db.execute(sa.select(table))).all()))
    return "\n".join(chunks)


# --- mail -------------------------------------------------------------------------------------------------------

DELIVERY_TIMEOUT = PATIENCE
MANAGE_LINK = re.compile(re.escape(BASE_URL) + r"/manage/(m_[A-Za-z0-9_-]+)")
PROPOSAL_LINK = re.compile(re.escape(BASE_URL) + r"/proposal/(p_[A-Za-z0-9_-]+)")
REVIEW_LINK = re.compile(re.escape(BASE_URL) + r"/review/(r_[A-Za-z0-9_-]+)")


class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts (called on the controller's thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self._messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return [m for _, m in self._messages]

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for rcpt, m in self._messages if address in rcpt]

    async def wait_for(self, count: int, timeout: float = DELIVERY_TIMEOUT) -> list[EmailMessage]:
        await eventually(lambda: len(self.messages) >= count, timeout, f"{count} email(s) delivered")
        return self.messages


def start_smtp(mailbox: Mailbox, port: int) -> Controller:
    """A real SMTP server (aiosmtpd, on a thread of its own) delivering into `mailbox`; stop() it after."""
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller


def smtp_env(port: int) -> dict[str, str]:
    """Settings for an app that sends through the SMTP server on `port`, retrying soon after a failure."""
    return {"CONFERENCE_SMTP_URL": f"smtp://127.0.0.1:{port}", "CONFERENCE_MAIL_RETRY_SECONDS": "0.2"}


async def outbox_rows(database: Database) -> list[OutboxEmail]:
    async with database.read() as db:
        return list((await db.execute(sa.select(OutboxEmail).order_by(OutboxEmail.created_at))).scalars())


async def all_sent(database: Database, count: int) -> None:
    """Wait until exactly `count` outbox rows exist and every one is marked sent."""

    async def check() -> bool:
        rows = await outbox_rows(database)
        return len(rows) == count and all(r.status == "sent" for r in rows)

    await eventually(check, DELIVERY_TIMEOUT, f"{count} outbox row(s) marked sent")


async def emails(database: Database, settings: Settings, kind: str | None = None) -> list[EmailMessage]:
    """The queued emails rendered exactly as the mail worker would send them."""
    async with database.read() as db:
        stmt = sa.select(OutboxEmail).order_by(OutboxEmail.created_at)
        if kind:
            stmt = stmt.where(OutboxEmail.kind == kind)
        rows = list((await db.execute(stmt)).scalars())
        return [await mailtext.render(db, settings, row) for row in rows]


def body_of(message: EmailMessage) -> str:
    """An email's plain-text body."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


# --- documents: PDFs, rasters, QR codes -------------------------------------------------------------------------


def pdf_text(pdf: bytes) -> tuple[str, int]:
    """The text of every page (with the line breaks the layout made) and the number of pages."""
    from pypdf import PdfReader  # test dependency: pip install -e '.[test]'

    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages), len(reader.pages)


def flat(text: str) -> str:
    """Text with every run of white space (line breaks included) made one space."""
    return " ".join(text.split())


def raster(pdf: bytes, dpi: int = 200) -> list[Image.Image]:
    """Every page of a PDF as a greyscale image."""
    import pypdfium2 as pdfium  # test dependency: rasterises without poppler

    doc = pdfium.PdfDocument(pdf)
    try:
        return [doc[i].render(scale=dpi / 72).to_pil().convert("L") for i in range(len(doc))]
    finally:
        doc.close()


def decode(image: Image.Image) -> list[zxingcpp.Barcode]:
    """The QR codes an independent decoder (zxing-cpp) reads in an image."""
    import zxingcpp

    return [r for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode) if r.valid]


# --- the browser ------------------------------------------------------------------------------------------------

LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CONTEXT = {"viewport": {"width": 1024, "height": 900}, "locale": "en-GB"}
BROWSER_PATIENCE_MS = int(PATIENCE * 1000)  # playwright's expect() and actions wait this long for the page

# axe-core comes from node_modules (npm devDependency), injected into each page by Playwright (which is not subject
# to the page's CSP). The rules: WCAG 2.1 A and AA, the level public-sector sites in the UK must meet.
AXE = Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_problems(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    if not AXE.exists():
        skip_or_fail("axe-core is not installed: run `npm ci`", "CONFERENCE_REQUIRE_BROWSER")
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS)
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


def describe_axe(violations: list[dict[str, Any]]) -> str:
    """axe-core's violations, readable in a failed assertion: each rule and the first few places it failed."""
    return json.dumps(
        [
            {
                "rule": v["id"],
                "impact": v["impact"],
                "help": v["help"],
                "where": [n["target"] for n in v["nodes"]][:5],
            }
            for v in violations
        ],
        indent=1,
    )


def assert_axe_clean(page: Page, where: str) -> None:
    found = axe_problems(page)
    assert not found, f"{where}: {describe_axe(found)}"


def console_sign_in(page: Page, base: str, path: str, *, email: str, password: str) -> None:
    """Open a console page, be sent to /login, and sign in there with email and password (back on `path`)."""
    from playwright.sync_api import expect

    page.goto(base + path)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


# --- card payments against the Stripe fake (tests/stripe_fake.py) ----------------------------------------------


def stripe_env(fake: FakeStripe) -> dict[str, str]:
    """Settings for card payments through `fake`; the payment worker's own ticks are left to the test."""
    return {
        "STRIPE_SECRET_KEY": fake.api_key,
        "STRIPE_WEBHOOK_SECRET": fake.webhook_secret,
        "STRIPE_API_BASE": fake.url,
        "CONFERENCE_PAYMENT_POLL_SECONDS": "3600",
    }


@asynccontextmanager
async def paid_app(
    database_url: str, fake: FakeStripe, **env: str
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """The app with card payments through `fake`, its lifespan running, a client, and the app (for
    `app.state.payments.tick()`)."""
    app = create_app(make_settings(database_url, **stripe_env(fake), **env))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client,
    ):
        yield client, app


async def deliver_stripe_event(
    client: httpx.AsyncClient, fake: FakeStripe, event: dict[str, Any], *, timestamp: int | None = None
) -> httpx.Response:
    """POST `event` to /stripe/webhook signed as Stripe signs it."""
    body = event_body(event)
    return await client.post(
        "/stripe/webhook",
        content=body,
        headers={
            "stripe-signature": sign(body, fake.webhook_secret, timestamp),
            "content-type": "application/json",
        },
    )


async def register_card(client: httpx.AsyncClient, ticket: Any, **extra: Any) -> dict[str, Any]:
    """A registration paying by card (201, pending_payment with its checkout_url)."""
    response = await client.post(
        "/api/v1/registrations", json=registration_body(ticket, payment_method="card", **extra)
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def registration_status(database: Database, registration_id: Any) -> Status:
    """A registration's status as stored now (`registration_id` a UUID or its text)."""
    async with database.read() as db:
        row = await db.get(Registration, uuid.UUID(str(registration_id)))
        assert row is not None
        return row.status


def checkout_session_id(checkout_url: str) -> str:
    """The Checkout Session id at the end of the fake's payment page address."""
    return checkout_url.rstrip("/").rsplit("/", 1)[-1]


async def outbox_kinds(
    database: Database, *, to: str | None = None, registration_id: Any = None
) -> list[str]:
    """The kinds of the emails queued, oldest first, to an address or about a registration."""
    stmt = sa.select(col(OutboxEmail.kind)).order_by(col(OutboxEmail.created_at))
    if to is not None:
        stmt = stmt.where(col(OutboxEmail.to_address) == to)
    if registration_id is not None:
        stmt = stmt.where(col(OutboxEmail.registration_id) == uuid.UUID(str(registration_id)))
    async with database.read() as db:
        return list((await db.execute(stmt)).scalars())
