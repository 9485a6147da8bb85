"""Signed, expiring download links for rendered report files (itsdangerous).

A token names exactly one file in ``REPORTS_DIR`` and carries its signing time; the route
accepts it until ``REPORT_LINK_TTL`` seconds have passed. Nothing about a bad token is
revealed to the caller: tampered and unknown tokens look alike.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

SALT = "campaign-report.download"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")


class LinkError(Exception):
    """A download token cannot be honoured."""


class LinkExpired(LinkError):
    """The token was genuine but is older than ``REPORT_LINK_TTL``."""


class LinkInvalid(LinkError):
    """The token is malformed, tampered with or names no acceptable file."""


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=SALT)


def is_safe_filename(name: str) -> bool:
    """True for a plain file name (no directory part, no leading dot)."""
    return bool(_SAFE_NAME.match(name)) and ".." not in name


def make_token(secret: str, filename: str) -> str:
    """A signed token naming ``filename`` (a plain name inside ``REPORTS_DIR``)."""
    if not is_safe_filename(filename):
        raise ValueError(f"filename: not a plain report file name: {filename!r}")
    return _serializer(secret).dumps({"f": filename})


def read_token(secret: str, token: str, ttl_seconds: int) -> str:
    """The file name in ``token``; ``LinkExpired`` or ``LinkInvalid`` otherwise."""
    try:
        data = _serializer(secret).loads(token, max_age=ttl_seconds)
    except SignatureExpired:
        raise LinkExpired("the link has expired") from None
    except BadSignature:
        raise LinkInvalid("the link is not valid") from None
    name = data.get("f") if isinstance(data, dict) else None
    if not isinstance(name, str) or not is_safe_filename(name):
        raise LinkInvalid("the link is not valid")
    return name


def link_url(public_base_url: str, token: str) -> str:
    """``PUBLIC_BASE_URL/reports/<token>``."""
    return f"{public_base_url.rstrip('/')}/reports/{token}"


def resolve_report_file(reports_dir: Path, filename: str) -> Path | None:
    """The file ``filename`` directly inside ``reports_dir``, or None when it is not there."""
    base = reports_dir.resolve()
    path = (base / filename).resolve()
    if path.parent != base or not path.is_file():
        return None
    return path


def expiry(now: datetime, ttl_seconds: int) -> datetime:
    """When a link made at ``now`` stops working."""
    return now + timedelta(seconds=ttl_seconds)
