"""Rendering report requests: the files of a pending request (PDF, with the CSV and/or XLSX
it asked for), then its deliveries.

A request's deliveries wait (``waiting``) until its files exist, then become ``pending`` for
the outbox runner, in the same transaction that records the files. Requests are created in
``store.requests`` (a download click, a digest).
"""

from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from reports.access import subscription_flows
from reports.compare import MAX_FLOWS, Comparison, compare_flows
from reports.files import parse_formats, render_report_files, report_basename
from reports.kpis import compute_kpis
from scheduler.runtime import Runtime
from store.db import write_transaction
from store.models import Delivery, Flow, ReportRequest, Subscription

logger = logging.getLogger("campaign_report.requests")


def pending_request_ids(runtime: Runtime) -> list[int]:
    """Requests whose files are still to be rendered, oldest first."""
    with Session(runtime.engine) as session:
        rows = session.exec(
            select(ReportRequest.id)
            .where(ReportRequest.state == "pending")
            .order_by(ReportRequest.id)  # type: ignore[arg-type]
        )
        return [row for row in rows if row is not None]


def render_request(runtime: Runtime, request_id: int) -> bool:
    """Render a pending request's files and release its deliveries; False otherwise.

    Files are written under a name that includes the request id, each one atomically, so a
    crash mid-way leaves the request ``pending`` and the next run simply renders it again.
    """
    config = runtime.config
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
        formats = parse_formats(request.formats)
        comparison = digest_comparison(session, request, flow, now)
        session.expunge(flow)
    base = f"{report_basename(flow, now)}_r{request_id}"
    try:
        files = render_report_files(
            runtime.engine,
            flow,
            report,
            config.reports_dir,
            base,
            zone=config.zone,
            page_size=config.page_size,  # type: ignore[arg-type]
            formats=formats,
            comparison=comparison,
        )
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
                csv_file=files.csv.name if files.csv else None,
                pdf_file=files.pdf.name if files.pdf else None,
                xlsx_file=files.xlsx.name if files.xlsx else None,
                kpis=report.to_json(),
                timeline=files.timeline.to_json() if files.timeline else None,
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


def digest_comparison(
    session: Session, request: ReportRequest, flow: Flow, now: datetime
) -> Comparison | None:
    """For a digest that covers ``all``: this flow beside the digest's other flows.

    A digest of ``all`` renders one report per flow (``subscriptions.queue_digest``); each
    report's PDF gets a compare page with its flow first, then up to 4 of the others (the
    ones that received data most recently), so every page is one table that fits. Digests
    of one flow, and downloads, have none.
    """
    if request.kind != "digest" or request.subscription_id is None:
        return None
    subscription = session.get(Subscription, request.subscription_id)
    if subscription is None or subscription.flow_id is not None:
        return None
    others = [f for f in subscription_flows(session, subscription) if f.id != flow.id]
    if not others:
        return None
    others.sort(key=lambda f: (f.updated_at, f.id or 0), reverse=True)
    return compare_flows(session.connection(), [flow, *others[: MAX_FLOWS - 1]], now=now)


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


def request_owners(runtime: Runtime, request_id: int) -> set[str]:
    """The Slack users who own a request's deliveries (told when it fails)."""
    with Session(runtime.engine) as session:
        owners = session.exec(select(Delivery.owner).where(Delivery.request_id == request_id))
        return {owner for owner in owners if owner}
