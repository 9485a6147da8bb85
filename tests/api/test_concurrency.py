"""Eight clients posting overlapping batches at once end where one-by-one posting ends."""

from __future__ import annotations

import random
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from bot.app import create_app
from bot.settings import Settings
from store.api_keys import create_api_key
from store.db import create_db_engine, write_transaction
from store.demo import DEMO_BOT, generate_demo_events
from tests.api.conftest import kpi_view, sqlite_only
from tests.live_server import serve_app

EVENTS = [e for e in generate_demo_events(25, 7) if e["bot_id"] == DEMO_BOT]
WORKFLOWS = sorted({e["workflow_id"] for e in EVENTS})
CLIENTS = 8


@contextmanager
def keyed_client(engine: Engine) -> Iterator[httpx.Client]:
    """The app on ``engine`` with a client holding a key for the demo bot."""
    key = create_api_key(engine, DEMO_BOT).token
    url = engine.url.render_as_string(hide_password=False)
    settings = Settings(_env_file=None, DATABASE_URL=url)  # type: ignore[call-arg]
    with (
        serve_app(create_app(settings, engine)) as base_url,
        httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}) as client,
    ):
        yield client


def every_flow_report(client: httpx.Client) -> dict[str, tuple[int, Any]]:
    """What GET …/kpis shows for each of the demo bot's flows."""
    return {wf: kpi_view(client, f"/api/v1/flows/{wf}/kpis") for wf in WORKFLOWS}


@pytest.fixture(scope="module")
def one_by_one(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The reports after posting every event alone, in order, to a fresh store."""
    path = tmp_path_factory.mktemp("sequential") / "store.db"
    shutil.copy(sqlite_template, path)
    engine = create_db_engine(f"sqlite:///{path}")
    with keyed_client(engine) as client:
        for event in EVENTS:
            assert client.post("/api/v1/events", json=[event]).status_code == 200
        reports = every_flow_report(client)
    engine.dispose()
    return reports


def _post_shuffled(
    client: httpx.Client, seed: int, start: threading.Barrier
) -> list[httpx.Response]:
    rng = random.Random(seed)
    events = EVENTS[:]
    rng.shuffle(events)
    start.wait()
    responses = []
    while events:
        size = rng.randint(5, 60)
        batch, events = events[:size], events[size:]
        responses.append(client.post("/api/v1/events", json=batch))
    return responses


def test_concurrent_overlapping_batches_end_with_the_sequential_kpis(
    store_engine: Engine, one_by_one: dict[str, Any]
) -> None:
    with keyed_client(store_engine) as client:
        start = threading.Barrier(CLIENTS)
        results: dict[int, list[httpx.Response]] = {}
        errors: list[BaseException] = []

        def run(seed: int) -> None:
            try:
                with httpx.Client(base_url=client.base_url, headers=client.headers,
                                  timeout=60) as own:  # fmt: skip
                    results[seed] = _post_shuffled(own, seed, start)
            except BaseException as exc:  # surfaced below, with the thread's failure
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(seed,)) for seed in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        responses = [r for seed in range(CLIENTS) for r in results[seed]]
        assert {r.status_code for r in responses} == {200}, [r.text for r in responses][:3]
        with_id = sum(1 for e in EVENTS if "event_id" in e)
        accepted = sum(r.json()["accepted"] for r in responses)
        # Each event_id is accepted once in all; events without one are accepted every time.
        assert accepted == with_id + CLIENTS * (len(EVENTS) - with_id)
        assert every_flow_report(client) == one_by_one
    assert any(status == 200 for status, _ in one_by_one.values())


@sqlite_only
def test_a_batch_waits_for_another_process_holding_the_sqlite_write_lock(
    store_engine: Engine,
) -> None:
    other_writer = create_db_engine(str(store_engine.url))  # as `campaign-bot import` would
    with keyed_client(store_engine) as client:
        locked = threading.Event()
        held_for = 1.0

        def hold_write_lock() -> None:
            with write_transaction(other_writer):
                locked.set()
                time.sleep(held_for)

        holder = threading.Thread(target=hold_write_lock)
        holder.start()
        locked.wait()
        response = client.post("/api/v1/events", json=EVENTS[:50], timeout=60)
        holder.join()
        assert response.status_code == 200, response.text
        assert response.json()["accepted"] == 50
    other_writer.dispose()
