"""What the packages above `conference` plug into it (conference/core/hooks.py, the mail queue's composers, the
template folders): one list, so the app, the command line and the tests install the same ones. Installing twice
changes nothing."""

from __future__ import annotations


def install() -> None:
    # Imported here: `conference --help` and quick commands should not load the web stack first.
    from badges import scanner, ticket_pages
    from conference import group_mail, groups
    from conference.invoices import emails as invoice_emails
    from sessions import wiring

    invoice_emails.install()
    groups.install()  # the group lead's email with their private link
    group_mail.install()  # the lead's email when their waitlisted group gets its places
    wiring.install()
    scanner.install()
    ticket_pages.install()  # the e-ticket: the manage page's QR, the confirmation's attachment
