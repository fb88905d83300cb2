"""Fixtures the conference tests share: a real SMTP server (aiosmtpd) on a free port, and its mailbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller

from tests import support
from tests.conference.test_email import Mailbox, start_smtp


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def smtp_port() -> int:
    return support.free_port()


@pytest.fixture
def smtp_server(mailbox: Mailbox, smtp_port: int) -> Iterator[Controller]:
    controller = start_smtp(mailbox, smtp_port)
    yield controller
    controller.stop()
