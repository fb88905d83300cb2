"""Operations findings of the security review (issue 15): `/metrics` under the default `conference serve` (one
worker) and its directory after SIGTERM (M6); no public development secret beyond this machine; no empty bank
details in production."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller
from prometheus_client.parser import text_string_to_metric_families
from starlette.config import Config

from conference.core.db import Database
from conference.core.settings import SettingsError, check_serving, is_loopback, load_settings
from conference.server import cli
from tests import support
from tests.factories import make_conference

METRICS_TOKEN = "metrics-token-for-tests-0123456789"
PRODUCTION = {
    "CONFERENCE_ENV": "production",
    "CONFERENCE_SECRET_KEY": support.SECRET_KEY,
    "CONFERENCE_INVOICE_BANK_DETAILS": "Example Council, sort code 01-02-03, account 12345678",
}


def sample(text: str, name: str, **labels: str) -> float:
    """One sample's value in a Prometheus exposition, summed over the series that match `labels`; 0 if none."""
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


# --- M6: metrics under one worker, and the directory after SIGTERM ------------------------------------------------


@pytest.mark.parametrize("imported_first", [False, True], ids=["plain", "prometheus_client-imported-first"])
async def test_one_worker_serve_counts_everything_and_sigterm_removes_its_directory(
    database_url: str,
    database: Database,
    tmp_path: Path,
    mailbox: support.Mailbox,
    smtp_server: Controller,
    smtp_port: int,
    imported_first: bool,
) -> None:
    """The default `conference serve` (one worker): a request, a registration, a check-in and an email are all in
    /metrics; SIGTERM stops it and its metrics directory is gone. `imported_first`: something imported
    prometheus_client before serve named its directory (here a sitecustomize); the counters must still show."""
    tickets = await make_conference(database)
    staff = support.bearer(await support.staff_token(database))
    env = {"CONFERENCE_METRICS_TOKEN": METRICS_TOKEN, "TMPDIR": str(tmp_path), **support.smtp_env(smtp_port)}
    if imported_first:
        early = tmp_path / "early"
        early.mkdir()
        (early / "sitecustomize.py").write_text(
            "import prometheus_client.values  # before serve names its folder\n"
        )
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(early), os.environ.get("PYTHONPATH")]))
    with support.server_group(
        database_url, env=env
    ) as server:  # one worker, as `conference serve` defaults to
        (metrics_dir,) = tmp_path.glob("conference-metrics-*")
        async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
            assert (await client.get("/readyz")).status_code == 200
            made = await support.register(client, tickets["delegate"])
            code = support.code_for(support.make_settings(database_url), made)
            assert (await support.scan(client, staff, code)).json()["result"] == "ok"
            await mailbox.wait_for(1)  # the confirmation, through the real SMTP server

            async def scrape() -> str:
                response = await client.get("/metrics", headers=support.bearer(METRICS_TOKEN))
                assert response.status_code == 200, response.text
                return response.text

            async def mail_counted() -> bool:
                return sample(await scrape(), "mail_sent_total") == 1

            await support.eventually(mail_counted, what="mail_sent_total to count the confirmation")
            text = await scrape()
        assert sample(text, "http_requests_total", method="GET", route="/readyz", status="200") == 1
        assert (
            sample(text, "http_requests_total", method="POST", route="/api/v1/registrations", status="201")
            == 1
        )
        assert sample(text, "registrations_total", status="confirmed") == 1
        assert sample(text, "checkins_total", result="ok") == 1
        assert sample(text, "http_requests_in_progress") == 1  # this scrape
        assert metrics_dir.is_dir() and any(metrics_dir.iterdir())  # the values really are in the folder

        server.proc.send_signal(signal.SIGTERM)
        returncode = server.proc.wait(timeout=60)
    assert returncode in (0, -signal.SIGTERM)  # a clean stop, ended by the signal as uvicorn means it to
    assert not metrics_dir.exists(), "SIGTERM left the metrics directory behind"
    assert not list(tmp_path.glob("conference-metrics-*"))


# --- no public development secret beyond this machine -------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost", "LOCALHOST"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "192.168.1.20", "register.example.org", ""])
def test_other_hosts_need_a_secret(host: str) -> None:
    assert not is_loopback(host)
    no_secret = load_settings(Config(environ={}))
    assert no_secret.uses_development_secret
    with pytest.raises(SettingsError, match="CONFERENCE_SECRET_KEY"):
        check_serving(no_secret, host)
    blank = load_settings(Config(environ={"CONFERENCE_SECRET_KEY": "   "}))  # blank is missing, not a secret
    assert blank.uses_development_secret
    with pytest.raises(SettingsError, match="CONFERENCE_SECRET_KEY"):
        check_serving(blank, host)
    check_serving(load_settings(Config(environ={"CONFERENCE_SECRET_KEY": support.SECRET_KEY})), host)


def test_loopback_may_use_the_development_secret() -> None:
    check_serving(load_settings(Config(environ={})), "127.0.0.1")  # ./scripts/demo, a developer's laptop


def _serve(database_url: str, cwd: Path, host: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`conference serve` as an operator types it, with only the given settings (no .env: cwd is empty)."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("CONFERENCE_", "PROMETHEUS_"))}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "conference.server.cli",
            "serve",
            "--host",
            host,
            "--port",
            str(support.free_port()),
        ],
        env={**keep, "CONFERENCE_DATABASE_URL": database_url, "TMPDIR": str(cwd), **env},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _refused(proc: subprocess.Popen[bytes]) -> str:
    try:
        _out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("conference serve started instead of refusing")
    assert proc.returncode == 2, err.decode()
    message = err.decode().strip()
    assert message.startswith("error: ") and "Traceback" not in message, message
    return message


def test_serve_refuses_a_public_address_without_a_secret(database_url: str, tmp_path: Path) -> None:
    message = _refused(_serve(database_url, tmp_path, "0.0.0.0", {}))
    assert "CONFERENCE_SECRET_KEY" in message and "0.0.0.0" in message
    assert not list(tmp_path.glob("conference-metrics-*"))  # refused before anything was made


@pytest.mark.parametrize("bank", ["", "   ", "\t"])
def test_production_refuses_blank_bank_details(bank: str) -> None:
    with pytest.raises(SettingsError, match="CONFERENCE_INVOICE_BANK_DETAILS"):
        load_settings(Config(environ={**PRODUCTION, "CONFERENCE_INVOICE_BANK_DETAILS": bank}))
    assert (
        load_settings(Config(environ=PRODUCTION)).invoice_bank_details
        == PRODUCTION["CONFERENCE_INVOICE_BANK_DETAILS"]
    )
    # Outside production the blank is allowed (the invoice simply has no bank line in a developer's demo).
    load_settings(Config(environ={"CONFERENCE_INVOICE_BANK_DETAILS": bank}))


def test_serve_and_commands_refuse_blank_bank_details_in_production(
    database_url: str, tmp_path: Path
) -> None:
    production = {**PRODUCTION, "CONFERENCE_INVOICE_BANK_DETAILS": "  "}
    message = _refused(_serve(database_url, tmp_path, "127.0.0.1", production))
    assert "CONFERENCE_INVOICE_BANK_DETAILS" in message


def test_a_command_says_which_setting_is_wrong(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    for name, value in {
        **PRODUCTION,
        "CONFERENCE_INVOICE_BANK_DETAILS": "",
        "CONFERENCE_DATABASE_URL": database_url,
    }.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["db", "upgrade"]) == 2
    assert "error: CONFERENCE_INVOICE_BANK_DETAILS is empty" in capsys.readouterr().err
