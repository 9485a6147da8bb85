"""Every table of the store, in one module to avoid import cycles.

Raw records (flows, messages, user events) are kept whole so that nothing sent to us is lost.
Beside them, ingestion keeps *rollups* so that a flow's KPIs are read from a handful of rows
whatever the flow's size:

* ``flow_user`` / ``flow_user_channel`` — one row per (flow, user[, channel]) with the user's
  flags (entered, exited, clicked…) and how many of their messages are impressions; they turn
  "distinct users with …" into counters that change only when a flag flips.
* ``flow_stat`` — the counters themselves, one row per (flow, channel) plus the ``""`` row
  for all channels.
* ``failure_reason_stat`` — failed messages per (flow, channel, reason).
* ``flow_timeline`` — the timeline's counters per (bot, flow, 15-minute UTC slot, channel);
  see ``FlowTimeline`` for why slots are 15 minutes, and ``Message.first_sent_at`` & co. for
  the per-message times it is kept from.

The rollups are maintained in the same transaction as the raw rows (see ``store.ingest``),
so they are never out of step with them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

ALL_CHANNELS = ""  # flow_stat.source of the row that covers every channel
TIMELINE_SLOT_SECONDS = 15 * 60  # flow_timeline.slot: UTC epoch seconds // this
DEFAULT_REPORT_FORMATS = "csv,pdf"  # report_request.formats, subscription.formats
# Tables keyed by a composite primary key: on SQLite, store rows in the key's B-tree instead of
# a rowid table plus a separate index (half the writes on the ingestion path).
WITHOUT_ROWID = {"sqlite_with_rowid": False}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC: the same on SQLite and PostgreSQL."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # raw SQLite text, e.g. from a bulk path
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class PayloadJSON(TypeDecorator[Any]):
    """A JSON value kept exactly as written: ``json`` on PostgreSQL, ``TEXT`` on SQLite.

    A SQLite column declared ``JSON`` has NUMERIC affinity, which turns a payload that is a
    bare number into a REAL or INTEGER: ``1.0`` came back as ``1``, ``-0.0`` as ``0``,
    integers past 64 bits and some doubles changed value. Kept as text, every JSON value the
    event format accepts comes back the same (and exports and imports the same).
    """

    impl = sa.JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.Text())
        return dialect.type_descriptor(sa.JSON())

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if dialect.name != "sqlite" or value is None:
            return value
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Any:
        if dialect.name == "sqlite" and isinstance(value, str):
            return json.loads(value)
        return value


def utcnow() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(UTC)


class Bot(SQLModel, table=True):
    """A tenant: the bot that sends a flow's notifications."""

    bot_id: str = Field(primary_key=True, max_length=128)
    name: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Flow(SQLModel, table=True):
    """An outbound campaign of one bot."""

    __table_args__ = (sa.UniqueConstraint("bot_id", "workflow_id", name="uq_flow_bot_workflow"),)

    id: int | None = Field(default=None, primary_key=True)
    bot_id: str = Field(foreign_key="bot.bot_id", max_length=128)
    workflow_id: str = Field(max_length=128)
    name: str = Field(max_length=300, index=True)
    status: str = Field(max_length=16)
    goal: str | None = Field(default=None, max_length=300)
    audience: int | None = None
    channels: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    scheduled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Message(SQLModel, table=True):
    """One notification, with the fields of the seed's CSV export."""

    __table_args__ = (
        sa.UniqueConstraint("bot_id", "message_id", name="uq_message_bot_message"),
        sa.Index("ix_message_flow_id_id", "flow_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    flow_id: int = Field(foreign_key="flow.id")
    bot_id: str = Field(max_length=128)
    message_id: str = Field(max_length=200)
    user_id: str = Field(max_length=320)
    source: str = Field(max_length=32)
    status: str = Field(max_length=16)
    status_at: datetime = Field(sa_type=UTCDateTime)
    ip_address: str | None = Field(default=None, max_length=64)
    custom_payload: Any | None = Field(default=None, sa_type=PayloadJSON)
    template_id: str | None = Field(default=None, max_length=200)
    sent_by: str | None = Field(default=None, max_length=320)
    comments: str | None = None
    error_code: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    scheduled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    # The earliest time of this message's events per timeline series (DESIGN.md, Timeline):
    # sent = its earliest sent/delivered/read event, delivered = earliest delivered/read,
    # read = earliest read, failed = earliest failed. They only ever move earlier, so events
    # arriving late or out of order move the message to the right bucket; the final status
    # decides in which series the message counts at all.
    first_sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    first_delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    first_read_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    first_failed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class UserEvent(SQLModel, table=True):
    """A user's action in a flow: click, reply, goal achieved, entered…"""

    __tablename__ = "user_event"

    id: int | None = Field(default=None, primary_key=True)
    flow_id: int = Field(foreign_key="flow.id")
    type: str = Field(max_length=32)
    user_id: str = Field(max_length=320)
    source: str | None = Field(default=None, max_length=32)
    message_id: str | None = Field(default=None, max_length=200)
    url: str | None = None
    at: datetime = Field(sa_type=UTCDateTime)
    event_id: str | None = Field(default=None, max_length=200)


class EventReceipt(SQLModel, table=True):
    """An ``event_id`` already accepted for a bot: a second copy of it is a duplicate."""

    __tablename__ = "event_receipt"
    __table_args__ = WITHOUT_ROWID

    bot_id: str = Field(primary_key=True, max_length=128)
    event_id: str = Field(primary_key=True, max_length=200)


class FlowUser(SQLModel, table=True):
    """Rollup: what one user did in one flow (``UserFlag`` bits) and their impressions."""

    __tablename__ = "flow_user"
    __table_args__ = WITHOUT_ROWID

    flow_id: int = Field(primary_key=True, foreign_key="flow.id")
    user_id: str = Field(primary_key=True, max_length=320)
    flags: int = 0
    impressions: int = 0
    first_goal_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # timeline goals


class FlowUserChannel(SQLModel, table=True):
    """Rollup: what one user did in one flow on one channel."""

    __tablename__ = "flow_user_channel"
    __table_args__ = WITHOUT_ROWID

    flow_id: int = Field(primary_key=True, foreign_key="flow.id")
    user_id: str = Field(primary_key=True, max_length=320)
    source: str = Field(primary_key=True, max_length=32)
    flags: int = 0
    impressions: int = 0
    first_goal_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # on this channel


class FlowStat(SQLModel, table=True):
    """Rollup counters of one flow on one channel (``source = ""``: all channels)."""

    __tablename__ = "flow_stat"
    __table_args__ = WITHOUT_ROWID

    flow_id: int = Field(primary_key=True, foreign_key="flow.id")
    source: str = Field(primary_key=True, max_length=32)
    events: int = 0
    engagement: int = 0
    click_users: int = 0
    conversation_users: int = 0
    goal_users: int = 0
    audience_users: int = 0
    reach_users: int = 0
    entered_users: int = 0
    exited_users: int = 0
    in_flow_users: int = 0
    messages: int = 0
    notifications: int = 0
    impressions: int = 0
    sent: int = 0
    delivered: int = 0
    read: int = 0
    failed: int = 0


class FailureReasonStat(SQLModel, table=True):
    """Rollup: messages of a flow and channel currently failed for one reason."""

    __tablename__ = "failure_reason_stat"
    __table_args__ = WITHOUT_ROWID

    flow_id: int = Field(primary_key=True, foreign_key="flow.id")
    source: str = Field(primary_key=True, max_length=32)
    reason: str = Field(primary_key=True, max_length=300)
    count: int = 0


class FlowTimeline(SQLModel, table=True):
    """Rollup: the timeline's counters of one flow in one 15-minute UTC slot on one channel.

    ``slot`` is the slot's start as UTC epoch seconds ÷ 900. Slots are 15 minutes, not hours,
    because a report's hours and days are local (``REPORT_TIMEZONE``) and a UTC hour cannot be
    split: an Asia/Kolkata hour 09:00–10:00 is 03:30–04:30 UTC, a Nepal one starts at :15.
    Every UTC offset in use is a whole number of 15 minutes, and so is every DST change, so
    each local hour or day is an exact sum of whole slots (``reports.buckets``).

    Rows per ``source``, and ``source = ""`` for the whole flow: a message counts in its
    channel's row and in the flow's (``sent``, ``delivered``, ``read``, ``failed``, kept for
    every channel, so which channels report delivery is decided when the timeline is read);
    ``clicks`` and ``goals`` on the event's channel (when it has one) and in the flow's row (a
    goal is a user's first ``goal_achieved``, which differs flow-wide and per channel). The
    key is (bot, flow, source, slot): a timeline reads one or two ranges of it, one row per
    slot. ``bot_id`` leads the key: the table is tenant-scoped.
    """

    __tablename__ = "flow_timeline"
    __table_args__ = WITHOUT_ROWID

    bot_id: str = Field(primary_key=True, max_length=128)
    flow_id: int = Field(primary_key=True, foreign_key="flow.id")
    source: str = Field(primary_key=True, max_length=32)
    slot: int = Field(primary_key=True)
    sent: int = 0
    delivered: int = 0
    read: int = 0
    failed: int = 0
    clicks: int = 0
    goals: int = 0


TIMELINE_COUNTERS = ("sent", "delivered", "read", "failed", "clicks", "goals")


class WorkspaceGrant(SQLModel, table=True):
    """A Slack workspace allowed to see one bot's flows."""

    __tablename__ = "workspace_grant"

    team_id: str = Field(primary_key=True, max_length=32)
    bot_id: str = Field(primary_key=True, foreign_key="bot.bot_id", max_length=128)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


STAT_COUNTERS: tuple[str, ...] = tuple(
    name for name in FlowStat.model_fields if name not in {"flow_id", "source"}
)


class ApiKey(SQLModel, table=True):
    """A key for the ingestion API, scoped to one bot; only its SHA-256 digest is kept."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    bot_id: str = Field(foreign_key="bot.bot_id", max_length=128, index=True)
    prefix: str = Field(max_length=16, index=True)  # shown to tell keys apart; not secret
    digest: str = Field(max_length=64, unique=True)  # hex SHA-256 of the whole key
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# -- Reports by Slack and email (issue #5): requests, the delivery outbox, subscriptions --------


class ReportRequest(SQLModel, table=True):
    """One rendering of a flow's full report (CSV + PDF), for a button click or a digest.

    ``state``: ``pending`` (to render) → ``rendered`` (files in ``REPORTS_DIR``) or ``failed``.
    The same user asking for the same flow within minutes reuses the row.
    """

    __tablename__ = "report_request"
    __table_args__ = (
        sa.Index("ix_report_request_reuse", "team_id", "requested_by", "flow_id", "created_at"),
        sa.Index("ix_report_request_state", "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    flow_id: int = Field(foreign_key="flow.id")
    team_id: str = Field(max_length=32)
    requested_by: str | None = Field(default=None, max_length=32)  # Slack user id
    subscription_id: int | None = Field(default=None)
    kind: str = Field(default="download", max_length=16)  # download | digest
    state: str = Field(default="pending", max_length=16)
    csv_file: str | None = Field(default=None, max_length=255)  # names inside REPORTS_DIR
    pdf_file: str | None = Field(default=None, max_length=255)
    xlsx_file: str | None = Field(default=None, max_length=255)
    # The files to render, e.g. "csv,pdf" or "pdf,xlsx" (reports.files.FILE_FORMATS).
    formats: str = Field(
        default=DEFAULT_REPORT_FORMATS,
        max_length=32,
        sa_column_kwargs={"server_default": DEFAULT_REPORT_FORMATS},
    )
    kpis: Any | None = Field(default=None, sa_type=sa.JSON)  # FlowReport.to_json() rendered
    timeline: Any | None = Field(default=None, sa_type=sa.JSON)  # Timeline.to_json() of the PDF
    previous_kpis: Any | None = Field(default=None, sa_type=sa.JSON)  # a digest's baseline
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    rendered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Delivery(SQLModel, table=True):
    """The outbox: one row per (report request or alert event, recipient) and what became of it.

    ``state``: ``waiting`` (its report is not rendered yet) → ``pending`` → ``sending``
    (claimed by the runner) → ``sent`` or ``failed``; a transient failure puts it back to
    ``pending`` with ``next_attempt_at`` pushed back. A row carries exactly one of
    ``request_id`` (a report) and ``alert_event_id`` (an alert's message, ``AlertEvent.id``;
    no foreign key, as that table's key leads with ``bot_id``), each unique per recipient.
    """

    __table_args__ = (
        sa.UniqueConstraint("request_id", "channel", "recipient", name="uq_delivery_recipient"),
        sa.UniqueConstraint(
            "alert_event_id", "channel", "recipient", name="uq_delivery_alert_recipient"
        ),
        sa.Index("ix_delivery_due", "state", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    request_id: int | None = Field(default=None, foreign_key="report_request.id")
    alert_event_id: str | None = Field(default=None, max_length=64)
    channel: str = Field(max_length=16)  # slack_user | slack_channel | email
    recipient: str = Field(max_length=320)
    owner: str | None = Field(default=None, max_length=32)  # Slack user told about failures
    state: str = Field(default="waiting", max_length=16)
    attempts: int = 0
    last_error: str | None = None
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    deadline_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Subscription(SQLModel, table=True):
    """A scheduled digest of one flow (or every granted flow) to a list of recipients."""

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    created_by: str = Field(max_length=32)  # Slack user id
    flow_id: int | None = Field(default=None, foreign_key="flow.id")  # None: all flows
    schedule: str = Field(max_length=200)  # as typed, e.g. "daily 09:00"
    cron: str = Field(max_length=200)  # crontab: minute hour day month day_of_week
    timezone: str = Field(default="UTC", max_length=64)
    recipients: list[str] = Field(default_factory=list, sa_type=sa.JSON)  # "kind:address"
    skip_unchanged: bool = False
    formats: str = Field(  # the digest's files: "csv,pdf" unless format:xlsx was asked
        default=DEFAULT_REPORT_FORMATS,
        max_length=32,
        sa_column_kwargs={"server_default": DEFAULT_REPORT_FORMATS},
    )
    active: bool = True
    last_kpis: Any | None = Field(default=None, sa_type=sa.JSON)  # {flow_id: KPI JSON}
    last_digest_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# APScheduler's job table (``SQLAlchemyJobStore``), declared here with the same columns so that
# migrations create it and schema checks and test clean-ups know it.
APSCHEDULER_JOBS = sa.Table(
    "apscheduler_jobs",
    SQLModel.metadata,
    sa.Column("id", sa.Unicode(191), primary_key=True),
    sa.Column("next_run_time", sa.Float(25), index=True),
    sa.Column("job_state", sa.LargeBinary, nullable=False),
)


# -- Connectors (issue #11): provider webhooks straight into the store -------------------------
# Tenant tables carry bot_id in their primary key (the distribution column of a sharded store).


class WebhookConnector(SQLModel, table=True):
    """A provider's webhook into one bot: ``PUBLIC_BASE_URL/webhooks/<kind>/<id>``.

    ``secret`` is the provider's secret encrypted under SECRET_KEY (``store.connectors.secrets``);
    ``key_id`` names the SECRET_KEY it was encrypted under, so a rotated key shows which
    connectors need their secret again. ``events_taken`` counts provider events in verified
    webhooks, ``events_refused`` the webhook deliveries refused (bad signature, replay…).
    """

    __tablename__ = "connector"
    __table_args__ = (sa.Index("ix_connector_id", "id"),)  # a webhook names the id alone

    bot_id: str = Field(primary_key=True, foreign_key="bot.bot_id", max_length=128)
    id: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=16)
    secret: str
    key_id: str = Field(max_length=16)
    events_taken: int = Field(default=0, sa_type=sa.BigInteger)
    events_refused: int = Field(default=0, sa_type=sa.BigInteger)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class WaitingStatus(SQLModel, table=True):
    """A provider status (or click) for a message not stored yet, with no flow hint to make it.

    It is applied when the message arrives by any ingestion path (``store.ingest.waiting``)
    and dropped 7 days after ``arrived_at`` by the retention job.
    """

    __tablename__ = "waiting_status"
    __table_args__ = (
        sa.Index("ix_waiting_status_message", "bot_id", "message_id"),
        sa.Index("ix_waiting_status_arrived_at", "arrived_at"),
        WITHOUT_ROWID,
    )

    bot_id: str = Field(primary_key=True, max_length=128)
    event_id: str = Field(primary_key=True, max_length=200)
    connector_id: str = Field(max_length=64)
    message_id: str = Field(max_length=200)
    type: str = Field(max_length=16)  # message | click
    status: str | None = Field(default=None, max_length=16)
    at: datetime = Field(sa_type=UTCDateTime)
    source: str = Field(max_length=32)
    error_code: str | None = Field(default=None, max_length=64)
    comments: str | None = None
    url: str | None = None
    workflow_id: str | None = Field(default=None, max_length=128)
    user_id: str | None = Field(default=None, max_length=320)
    arrived_at: datetime = Field(sa_type=UTCDateTime)


class WebhookToken(SQLModel, table=True):
    """A Mailgun signature token already taken: the same token again is a replay (401).

    Kept only while a signature carrying it could still be fresh (see
    ``store.ingest.waiting.TOKEN_KEEP``).
    """

    __tablename__ = "webhook_token"
    __table_args__ = (sa.Index("ix_webhook_token_seen_at", "bot_id", "seen_at"), WITHOUT_ROWID)

    bot_id: str = Field(primary_key=True, max_length=128)
    token: str = Field(primary_key=True, max_length=200)
    connector_id: str = Field(max_length=64)
    seen_at: datetime = Field(sa_type=UTCDateTime)


class StoreSetting(SQLModel, table=True):
    """A fact about the whole store, such as the delivery-reporting channels its rollups were
    built with (``store.ingest.reporting``). Not a tenant table."""

    __tablename__ = "store_setting"

    name: str = Field(primary_key=True, max_length=64)
    value: str
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# -- Alerts (issue #13): conditions on live flows, their state per flow, their messages ---------
# ``alert`` is a workspace table (like ``subscription``: it belongs to a Slack workspace and may
# cover the flows of several bots); ``alert_state`` and ``alert_event`` are tenant tables, one
# bot's data each, with ``bot_id`` leading their primary key.


class Alert(SQLModel, table=True):
    """A condition a Slack workspace watches on one live or scheduled flow, or on all of them.

    Workspace table (not a tenant table): it belongs to ``team_id``; ``flow_id`` None means
    every live or scheduled flow the workspace may see, whichever bots they belong to.
    ``metric`` is ``delivery_rate``, ``failure_rate``, ``read_rate``, ``click_through_rate``,
    ``failed`` or ``error:CODE``; ``threshold`` a percentage for rates, a count otherwise
    (``reports.alerts`` holds the rules).
    """

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    created_by: str = Field(max_length=32)  # Slack user id; told when a delivery fails
    flow_id: int | None = Field(default=None, foreign_key="flow.id")  # None: all flows
    metric: str = Field(max_length=80)
    op: str = Field(max_length=2)  # <, <=, >, >=
    threshold: float
    min_notifications: int = 100
    recipients: list[str] = Field(default_factory=list, sa_type=sa.JSON)  # "kind:address"
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AlertState(SQLModel, table=True):
    """Tenant table: an alert's state on one flow — ``ok`` or ``firing`` — as last judged.

    ``value`` and ``notifications`` are the last judgement's; ``changed_at`` is when the state
    last changed, and ``transitions`` counts the changes (the ``seq`` of the latest
    ``alert_event``). ``muted_until``: transitions before it send nothing (Mute for 24 h).
    """

    __tablename__ = "alert_state"
    __table_args__ = WITHOUT_ROWID

    bot_id: str = Field(primary_key=True, max_length=128)
    alert_id: int = Field(primary_key=True, foreign_key="alert.id")
    flow_id: int = Field(primary_key=True, foreign_key="flow.id")
    state: str = Field(default="ok", max_length=8)
    value: float | None = None
    notifications: int = 0
    changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    transitions: int = 0
    muted_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AlertEvent(SQLModel, table=True):
    """Tenant table: one announced transition of an alert on a flow, and what its message says.

    ``id`` is ``"<alert>.<flow>.<seq>"`` (the ``seq``-th transition of that alert on that
    flow), so one transition can be recorded only once; the outbox's ``delivery`` rows name
    it. ``kind`` is ``firing`` or ``resolved``; ``content`` the judgement the message shows
    (flow name, metric, value, threshold, notifications, top failure reason), frozen when it
    was made, so a retry sends the same words. Written in the transaction that changed the
    state, with its deliveries.
    """

    __tablename__ = "alert_event"
    __table_args__ = (sa.Index("ix_alert_event_id", "id"),)  # a delivery names the id alone

    bot_id: str = Field(primary_key=True, max_length=128)
    id: str = Field(primary_key=True, max_length=64)
    alert_id: int = Field(foreign_key="alert.id")
    flow_id: int = Field(foreign_key="flow.id")
    seq: int
    kind: str = Field(max_length=16)
    content: Any = Field(sa_type=sa.JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
