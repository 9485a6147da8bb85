"""Report requests: create one (reusing a recent identical one), render its files.

A request is the unit of rendering — one CSV and one PDF in ``REPORTS_DIR`` — and owns one
outbox row per recipient. Its deliveries wait (``waiting``) until the files exist, then
become ``pending`` for the outbox runner, in the same transaction that records the files.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, select

from reports.csv_export import export_csv, report_basename
from reports.kpis import compute_kpis
from reports.pdf import save_pdf
from scheduler.runtime import Runtime
from store.db import write_transaction
from store.models import Delivery, Flow, ReportRequest

logger = logging.getLogger("campaign_report.requests")
REUSE_WINDOW = timedelta(minutes=10)
CHANNELS = ("slack_user", "slack_channel", "email")


@dataclass(frozen=True)
class Recipient:
    """Where one copy goes: a Slack user (DM), a Slack channel or an email address."""

    channel: str
    address: str

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ValueError(f"channel: unknown delivery channel {self.channel!r}")


@dataclass(frozen=True)
class CreatedRequest:
    """The request a click produced, and whether an earlier identical one was reused."""

    request_id: int
    reused: bool
    recipients: tuple[Recipient, ...]


def create_download_request(
    session: Session,
    *,
    flow: Flow,
    team_id: str,
    user_id: str,
    recipient: Recipient,
    now: datetime,
    deadline: timedelta,
) -> CreatedRequest:
    """A request for ``flow``'s full report for ``user_id``; reuses one from the last minutes."""
    assert flow.id is not None
    recent = session.exec(
        select(ReportRequest)
        .where(
            ReportRequest.team_id == team_id,
            ReportRequest.requested_by == user_id,
            ReportRequest.flow_id == flow.id,
            ReportRequest.kind == "download",
            ReportRequest.state != "failed",
            ReportRequest.created_at >= now - REUSE_WINDOW,
        )
        .order_by(sa.desc(ReportRequest.created_at))
    ).first()
    if recent is not None and recent.id is not None:
        existing = session.exec(select(Delivery).where(Delivery.request_id == recent.id)).all()
        recipients = tuple(Recipient(d.channel, d.recipient) for d in existing)
        return CreatedRequest(recent.id, True, recipients)
    request = ReportRequest(
        flow_id=flow.id, team_id=team_id, requested_by=user_id, kind="download", created_at=now
    )
    session.add(request)
    session.flush()
    assert request.id is not None
    session.add(
        Delivery(
            request_id=request.id,
            channel=recipient.channel,
            recipient=recipient.address,
            owner=user_id,
            next_attempt_at=now,
            deadline_at=now + deadline,
            created_at=now,
        )
    )
    session.commit()
    return CreatedRequest(request.id, False, (recipient,))


def pending_request_ids(runtime: Runtime) -> list[int]:
    """Requests whose files are still to be rendered, oldest first."""
    with Session(runtime.engine) as session:
        rows = session.exec(
            select(ReportRequest.id)
            .where(ReportRequest.state == "pending")
            .order_by(ReportRequest.id)
        )
        return [row for row in rows if row is not None]


def render_request(runtime: Runtime, request_id: int) -> bool:
    """Render a pending request's CSV and PDF and release its deliveries; False otherwise.

    Files are written under a name that includes the request id, each one atomically, so a
    crash mid-way leaves the request ``pending`` and the next run simply renders it again.
    """
    settings = runtime.settings
    now = runtime.clock()
    with Session(runtime.engine) as session:
        request = session.get(ReportRequest, request_id)
        if request is None or request.state != "pending":
            return False
        flow = session.get(Flow, request.flow_id)
        if flow is None:
            fail_request(runtime, request_id, "the flow no longer exists")
            return False
        report = compute_kpis(session.connection(), flow, now=now)
        session.expunge(flow)
    base = f"{report_basename(flow, now)}_r{request_id}"
    directory: Path = settings.REPORTS_DIR
    try:
        export_csv(runtime.engine, flow, directory / f"{base}.csv", settings.report_zone)
        save_pdf(report, directory / f"{base}.pdf", settings.report_zone, settings.REPORT_PAGE_SIZE)
    except OSError as exc:
        logger.exception("cannot write report files for request %s", request_id)
        fail_request(runtime, request_id, f"cannot write the report files: {exc.strerror}")
        return False
    request_table, delivery_table = ReportRequest.__table__, Delivery.__table__
    with write_transaction(runtime.engine) as conn:
        done = conn.execute(
            sa.update(request_table)
            .where(request_table.c.id == request_id, request_table.c.state == "pending")
            .values(
                state="rendered",
                csv_file=f"{base}.csv",
                pdf_file=f"{base}.pdf",
                kpis=report.to_json(),
                rendered_at=now,
            )
        ).rowcount
        if done:
            conn.execute(
                sa.update(delivery_table)
                .where(
                    delivery_table.c.request_id == request_id,
                    delivery_table.c.state == "waiting",
                )
                .values(state="pending", next_attempt_at=now)
            )
    return bool(done)


def fail_request(runtime: Runtime, request_id: int, reason: str) -> None:
    """Mark a request that cannot be rendered failed, with its waiting deliveries."""
    request_table, delivery_table = ReportRequest.__table__, Delivery.__table__
    with write_transaction(runtime.engine) as conn:
        conn.execute(
            sa.update(request_table)
            .where(request_table.c.id == request_id)
            .values(state="failed", error=reason)
        )
        conn.execute(
            sa.update(delivery_table)
            .where(delivery_table.c.request_id == request_id, delivery_table.c.state == "waiting")
            .values(state="failed", last_error=reason)
        )
