"""Rules shared by every surface: crontab schedules, the email-domain rule."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from reports.access import email_domain_allowed
from reports.schedules import crontab_trigger


def test_email_recipients_outside_the_allowed_domains_are_refused() -> None:
    internal, allowed = ["acme.example"], ["partner.example"]
    assert email_domain_allowed("a@acme.example", internal, allowed)
    assert email_domain_allowed("b@Partner.Example", internal, allowed)
    assert not email_domain_allowed("x@gmail.example", internal, allowed)


@pytest.mark.parametrize(
    ("expression", "weekday"),
    [("0 9 * * 1", "Mon"), ("0 9 * * 0", "Sun"), ("0 9 * * 7", "Sun"), ("0 9 * * 5", "Fri")],
)
def test_crontab_weekdays_count_from_sunday(expression: str, weekday: str) -> None:
    friday = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    fire = crontab_trigger(expression, "UTC").get_next_fire_time(None, friday)
    assert fire is not None and f"{fire:%a}" == weekday


def test_a_malformed_crontab_line_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="expected 5 fields"):
        crontab_trigger("0 9 * *", "UTC")
    with pytest.raises(ValueError):
        crontab_trigger("0 99 * * *", "UTC")


@pytest.mark.parametrize(
    ("address", "ok"),
    [
        ("ops@acme.example", True),
        ("Ops@ACME.Example", True),
        ("guest@partner.example", True),
        ("a@bücher.example", True),  # configured as its IDNA A-label below
        ("evil@acme.example.evil.com", False),  # a suffix trick
        ("evil@evilacme.example", False),
        ("evil@sub.acme.example", False),  # subdomains are other domains
        ('"x@acme.example"@evil.com', False),  # a quoted @ in the local part
        ("x@acme.example.", False),
        ("x@acme.example\r\nBcc: y@evil.com", False),
        ("not an address", False),
    ],
)
def test_only_exact_allowed_domains_pass(address: str, ok: bool) -> None:
    internal, allowed = ["acme.example"], ["Partner.Example", "xn--bcher-kva.example"]
    assert email_domain_allowed(address, internal, allowed) is ok
