"""A Slack Web API stand-in: a real HTTP server on loopback that records every call.

It implements what the app uses — ``auth.test``, ``apps.connections.open``, ``chat.postMessage``,
``chat.postEphemeral``, ``chat.update``, ``conversations.open``, ``users.info``,
``files.getUploadURLExternal``, the upload URL it hands out, ``files.completeUploadExternal``
— and ``response_url`` endpoints (``/response/<key>``). Like Slack, it rejects a bad token
and messages whose blocks break Block Kit's limits, and it can answer the next calls of a
method with 429 + ``Retry-After``. Point ``SLACK_API_URL`` at ``api_url``.

It can also misbehave as what stands in front of Slack does: answer the next calls of a
method with a raw body (``answer_raw``: an HTML 502 from an edge proxy) or hold them
(``hang``). Channels listed in ``channels`` have members: posting or sharing files there
needs the bot to be one (``not_in_channel``), and ``conversations.join`` makes it one for a
public channel (a private one answers ``method_not_supported_for_channel_type``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.live_server import serve_app

RESPONSE_URL = "response_url"  # the ``method`` recorded for posts to a response_url
UPLOAD = "upload"  # the ``method`` recorded for bytes sent to an upload URL
MAX_BLOCKS = 50


@dataclass(frozen=True)
class Call:
    """One request the stand-in received."""

    method: str
    path: str
    data: dict[str, Any]
    headers: dict[str, str]
    raw: bytes
    status: int
    at: float  # time.perf_counter() when it arrived


@dataclass
class FakeSlack:
    """The stand-in's state: recorded calls, users, uploads, pending 429s."""

    token: str = "xoxb-test-token"
    app_token: str = "xapp-test-token"  # Socket Mode: apps.connections.open
    socket_url: str = ""  # what apps.connections.open hands out (see tests/fakes/socket_mode.py)
    team_id: str = "T0TEST"
    bot_user_id: str = "U0BOT"
    bot_id: str = "B0BOT"
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    base_url: str = ""
    echo: Callable[[Call], None] | None = None  # called for every request (the CLI prints)
    calls: list[Call] = field(default_factory=list)
    uploads: dict[str, bytes] = field(default_factory=dict)
    _pending_files: dict[str, dict[str, Any]] = field(default_factory=dict)
    _rate_limits: dict[str, list[int]] = field(default_factory=dict)
    _failures: dict[str, list[str]] = field(default_factory=dict)
    _raw: dict[str, list[tuple[int, str, str]]] = field(default_factory=dict)
    _hangs: dict[str, list[float]] = field(default_factory=dict)
    # Channel id -> {"is_private": bool, "members": set of user ids}; unlisted ones take posts.
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def api_url(self) -> str:
        """The value for ``SLACK_API_URL``."""
        return f"{self.base_url}/api/"

    def response_url(self, key: str = "r1") -> str:
        """A ``response_url`` served by the stand-in; posts to it are recorded."""
        return f"{self.base_url}/response/{key}"

    def rate_limit(self, method: str, times: int = 1, retry_after: int = 0) -> None:
        """Answer the next ``times`` calls of ``method`` with 429 and ``Retry-After``."""
        with self._changed:
            self._rate_limits.setdefault(method, []).extend([retry_after] * times)

    def fail(self, method: str, error: str, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with ``{"ok": false, "error": …}``."""
        with self._changed:
            self._failures.setdefault(method, []).extend([error] * times)

    def answer_raw(
        self,
        method: str,
        status: int = 502,
        body: str = "<html><body><h1>502 Bad Gateway</h1></body></html>",
        content_type: str = "text/html",
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with ``body`` (not Slack's JSON)."""
        with self._changed:
            self._raw.setdefault(method, []).extend([(status, body, content_type)] * times)

    def hang(self, method: str, seconds: float, times: int = 1) -> None:
        """Hold the next ``times`` calls of ``method`` for ``seconds`` before answering."""
        with self._changed:
            self._hangs.setdefault(method, []).extend([seconds] * times)

    def add_channel(self, channel_id: str, *, private: bool = False, members: Any = ()) -> None:
        """A channel whose membership counts (the bot is not in it unless listed)."""
        with self._changed:
            self.channels[channel_id] = {"is_private": private, "members": set(members)}

    def calls_to(self, method: str, status: int | None = 200) -> list[Call]:
        """Recorded calls of ``method`` (by default only the ones answered 200)."""
        with self._changed:
            return [
                c
                for c in self.calls
                if c.method == method and (status is None or c.status == status)
            ]

    def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        """Block until ``count`` successful calls of ``method`` arrived; return them."""

        def arrived() -> bool:
            ok = [c for c in self.calls if c.method == method and c.status == 200]
            return len(ok) >= count

        with self._changed:
            if not self._changed.wait_for(arrived, timeout=timeout):
                seen = [f"{c.method}:{c.status}" for c in self.calls]
                raise AssertionError(f"expected {count} call(s) of {method}; got {seen}")
        return self.calls_to(method)[:count]

    def wait_for_response(self, key: str, timeout: float = 10.0) -> dict[str, Any]:
        """Block until the ``response_url`` ``key`` received a message; return its JSON."""
        return self.wait_for_response_call(key, timeout).data

    def wait_for_response_call(self, key: str, timeout: float = 10.0) -> Call:
        """Block until the ``response_url`` ``key`` received a message; return the call."""
        path = f"/response/{key}"

        def arrived() -> bool:
            return any(c.path == path and c.status == 200 for c in self.calls)

        with self._changed:
            if not self._changed.wait_for(arrived, timeout=timeout):
                seen = [f"{c.method}:{c.path}:{c.status}" for c in self.calls]
                raise AssertionError(f"nothing arrived at {path}; got {seen}")
            return next(c for c in self.calls if c.path == path and c.status == 200)

    # -- the HTTP side ---------------------------------------------------------------------

    def _record(self, call: Call) -> None:
        with self._changed:
            self.calls.append(call)
            self._changed.notify_all()
        if self.echo is not None:
            self.echo(call)

    def _take_rate_limit(self, method: str) -> int | None:
        with self._changed:
            pending = self._rate_limits.get(method)
            return pending.pop(0) if pending else None

    def _take_failure(self, method: str) -> str | None:
        with self._changed:
            pending = self._failures.get(method)
            return pending.pop(0) if pending else None

    def _take(self, queues: dict[str, list[Any]], method: str) -> Any:
        with self._changed:
            pending = queues.get(method)
            return pending.pop(0) if pending else None

    def not_a_member(self, channel: str) -> bool:
        """True when ``channel`` is a listed channel the bot has not joined."""
        with self._changed:
            known = self.channels.get(channel)
            return known is not None and self.bot_user_id not in known["members"]

    def _ts(self) -> str:
        return f"{int(time.time())}.{next(self._ids):06d}"

    async def _dispatch(self, request: Request, method: str, handler: Handler) -> Response:
        raw = await request.body()
        data = _parse_body(request, raw)
        headers = {k.lower(): v for k, v in request.headers.items()}
        hang = self._take(self._hangs, method)
        if hang is not None:
            await asyncio.sleep(hang)
        raw_answer = self._take(self._raw, method)
        retry_after = None if raw_answer is not None else self._take_rate_limit(method)
        if raw_answer is not None:
            status, text, content_type = raw_answer
            response: Response = Response(text, status_code=status, media_type=content_type)
        elif retry_after is not None:
            response = JSONResponse(
                {"ok": False, "error": "ratelimited"},
                status_code=429,
                headers={"Retry-After": str(retry_after)},
            )
        elif (error := self._take_failure(method)) is not None:
            response = _error(error)
        else:
            response = handler(self, request, data, raw)
        self._record(
            Call(
                method,
                request.url.path,
                data,
                headers,
                raw,
                response.status_code,
                time.perf_counter(),
            )
        )
        return response

    def build_app(self) -> Starlette:
        """The ASGI app serving the Web API, upload URLs and response URLs."""

        async def api(request: Request) -> Response:
            method = request.path_params["method"]
            if method == "apps.connections.open":
                return await self._dispatch(request, method, _connections_open)
            handler = API_METHODS.get(method, _unknown_method)
            return await self._dispatch(request, method, _authenticated(handler))

        async def response_url(request: Request) -> Response:
            return await self._dispatch(request, RESPONSE_URL, _respond)

        async def upload(request: Request) -> Response:
            return await self._dispatch(request, UPLOAD, _upload)

        return Starlette(
            routes=[
                Route("/api/{method}", api, methods=["GET", "POST"]),
                Route("/response/{key}", response_url, methods=["POST"]),
                Route("/upload/{file_id}", upload, methods=["POST"]),
            ]
        )


Handler = Callable[[FakeSlack, Request, dict[str, Any], bytes], Response]


def _parse_body(request: Request, raw: bytes) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "")
    data: dict[str, Any] = dict(request.query_params)
    if "application/json" in content_type and raw:
        data |= json.loads(raw)
    elif "application/x-www-form-urlencoded" in content_type:
        from urllib.parse import parse_qsl

        data |= dict(parse_qsl(raw.decode(), keep_blank_values=True))
    for key in ("blocks", "files"):
        if isinstance(data.get(key), str):
            data[key] = json.loads(data[key])
    return data


def _ok(**fields: Any) -> JSONResponse:
    return JSONResponse({"ok": True} | fields)


def _error(error: str, status: int = 200) -> JSONResponse:
    return JSONResponse({"ok": False, "error": error}, status_code=status)


def blocks_problem(blocks: Any) -> str | None:
    """Why Slack would reject ``blocks`` (count and Block Kit limits), or None."""
    if blocks is None:
        return None
    if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
        return f"at most {MAX_BLOCKS} blocks"
    try:
        for block in blocks:
            parsed = Block.parse(block)
            if parsed is None:
                return f"unknown block {block!r:.80}"
            parsed.validate_json()
    except SlackObjectFormationError as exc:
        return str(exc)
    return None


def _authenticated(handler: Handler) -> Handler:
    def check(fake: FakeSlack, request: Request, data: dict[str, Any], raw: bytes) -> Response:
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if fake.token not in (bearer, data.get("token")):
            return _error("invalid_auth")
        return handler(fake, request, data, raw)

    return check


def _connections_open(
    fake: FakeSlack, request: Request, data: dict[str, Any], raw: bytes
) -> Response:
    bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
    if bearer != fake.app_token:
        return _error("invalid_auth")
    return _ok(url=fake.socket_url) if fake.socket_url else _error("socket_mode_not_enabled")


def _unknown_method(
    fake: FakeSlack, request: Request, data: dict[str, Any], raw: bytes
) -> Response:
    return _error("unknown_method", 404)


def _auth_test(fake: FakeSlack, request: Request, data: dict[str, Any], raw: bytes) -> Response:
    return _ok(
        url="https://fake-workspace.slack.com/",
        team="Fake workspace",
        user="campaign-report",
        team_id=fake.team_id,
        user_id=fake.bot_user_id,
        bot_id=fake.bot_id,
        is_enterprise_install=False,
    )


def _message_problem(data: dict[str, Any]) -> Response | None:
    if not data.get("channel"):
        return _error("channel_not_found")
    if not data.get("text") and not data.get("blocks"):
        return _error("no_text")
    if blocks_problem(data.get("blocks")):
        return _error("invalid_blocks")
    return None


def _post_message(fake: FakeSlack, request: Request, data: dict[str, Any], raw: bytes) -> Response:
    problem = _message_problem(data)
    if problem is not None:
        return problem
    if fake.not_a_member(str(data["channel"])):
        return _error("not_in_channel")
    ts = fake._ts()
    message = {"text": data.get("text", ""), "blocks": data.get("blocks"), "ts": ts}
    return _ok(channel=data["channel"], ts=ts, message=message)


def _post_ephemeral(
    fake: FakeSlack, request: Request, data: dict[str, Any], raw: bytes
) -> Response:
    problem = _message_problem(data)
    if problem is not None:
        return problem
    if not data.get("user"):
        return _error("user_not_found")
    return _ok(message_ts=fake._ts())


def _update(fake: FakeSlack, request: Request, data: dict[str, Any], raw: bytes) -> Response:
    problem = _message_problem(data)
    if problem is not None:
        return problem
    if not data.get("ts"):
        return _error("message_not_found")
    return _ok(channel=data["channel"], ts=data["ts"], text=data.get("text", ""))


def _conversations_open(
    fake: FakeSlack, request: Request, data: dict[str, Any], raw: bytes
) -> Response:
    users = str(data.get("users", "")).strip()
    if not users:
        return _error("users_list_not_supplied")
    return _ok(channel={"id": "D" + users.replace(",", "").upper()[:10], "is_im": True})


def _conversations_join(
    fake: FakeSlack, request: Request, data: dict[str, Any], raw: bytes
) -> Response:
    channel = str(data.get("channel", ""))
    with fake._changed:
        known = fake.channels.get(channel)
        if known is None:
            return _error("channel_not_found")
        if known["is_private"]:
            return _error("method_not_supported_for_channel_type")
        known["members"].add(fake.bot_user_id)
    return _ok(channel={"id": channel, "is_channel": True, "is_member": True})


def _users_info(fake: FakeSlack, request: Request, data: dict[str, Any], raw: bytes) -> Response:
    user = fake.users.get(str(data.get("user", "")))
    return _ok(user=user) if user is not None else _error("user_not_found")


def _get_upload_url(
    fake: FakeSlack, request: Request, data: dict[str, Any], raw: bytes
) -> Response:
    if not data.get("filename") or not str(data.get("length", "")).isdigit():
        return _error("invalid_arguments")
    file_id = f"F{next(fake._ids):08d}"
    fake._pending_files[file_id] = {"filename": data["filename"], "length": int(data["length"])}
    return _ok(upload_url=f"{fake.base_url}/upload/{file_id}", file_id=file_id)


def _upload(fake: FakeSlack, request: Request, data: dict[str, Any], raw: bytes) -> Response:
    file_id = request.path_params["file_id"]
    if file_id not in fake._pending_files:
        return PlainTextResponse("unknown upload", status_code=404)
    fake.uploads[file_id] = raw
    return PlainTextResponse(f"OK - {len(raw)}")


def _complete_upload(
    fake: FakeSlack, request: Request, data: dict[str, Any], raw: bytes
) -> Response:
    files = data.get("files")
    if not isinstance(files, list) or not files:
        return _error("invalid_arguments")
    if data.get("channel_id") and fake.not_a_member(str(data["channel_id"])):
        return _error("not_in_channel")
    done = []
    for item in files:
        file_id = item.get("id")
        if file_id not in fake.uploads:
            return _error("file_not_found")
        pending = fake._pending_files[file_id]
        done.append(
            {
                "id": file_id,
                "name": pending["filename"],
                "title": item.get("title") or pending["filename"],
            }
        )
    return _ok(files=done)


def _respond(fake: FakeSlack, request: Request, data: dict[str, Any], raw: bytes) -> Response:
    if not data.get("text") and not data.get("blocks") and not data.get("delete_original"):
        return PlainTextResponse("no_text", status_code=400)
    if blocks_problem(data.get("blocks")):
        return PlainTextResponse("invalid_blocks", status_code=400)
    return PlainTextResponse("ok")


API_METHODS: dict[str, Handler] = {
    "auth.test": _auth_test,
    "chat.postMessage": _post_message,
    "chat.postEphemeral": _post_ephemeral,
    "chat.update": _update,
    "conversations.open": _conversations_open,
    "conversations.join": _conversations_join,
    "users.info": _users_info,
    "files.getUploadURLExternal": _get_upload_url,
    "files.completeUploadExternal": _complete_upload,
}


@contextmanager
def run_fake_slack(**fields: Any) -> Iterator[FakeSlack]:
    """Start the stand-in on an ephemeral loopback port for the duration of the block."""
    fake = FakeSlack(**fields)
    with serve_app(fake.build_app()) as base_url:
        fake.base_url = base_url
        yield fake


def describe_message(data: dict[str, Any]) -> str:
    """A message as terminal text: what Slack would show, and each control's id and value."""
    lines = [f"({data.get('response_type', 'message')}"
             f"{', replaces the original' if data.get('replace_original') else ''})"]  # fmt: skip
    for block in data.get("blocks") or []:
        if block.get("text"):
            lines.append(block["text"]["text"])
        lines += [f["text"] for f in block.get("fields", [])]
        if block["type"] == "context":
            lines += [e.get("text", "") for e in block["elements"]]
        controls = list(block.get("elements", [])) if block["type"] == "actions" else []
        controls += [block["accessory"]] if "accessory" in block else []
        for control in controls:
            if control["type"] == "button":
                lines.append(
                    f"  [{control['text']['text']}] --action {control['action_id']} "
                    f"--value '{control['value']}'"
                )
            else:
                for option in control.get("options", []):
                    lines.append(
                        f"  [menu: {option['text']['text']}] --action {control['action_id']} "
                        f"--value '{option['value']}'"
                    )
    return "\n".join(lines)


def main() -> None:
    """``python -m tests.fakes.slack_api [--port 3001]``: run the stand-in, print every call."""
    import argparse

    import uvicorn

    parser = argparse.ArgumentParser(description="Slack Web API stand-in (loopback only).")
    parser.add_argument("--port", type=int, default=3001)
    parser.add_argument("--token", default="xoxb-test-token")
    args = parser.parse_args()

    def echo(call: Call) -> None:
        print(f"← {call.method} {call.path} → {call.status}", flush=True)
        if call.method == RESPONSE_URL and call.status == 200:
            print(describe_message(call.data), flush=True)

    fake = FakeSlack(token=args.token, base_url=f"http://127.0.0.1:{args.port}", echo=echo)
    print(f"SLACK_API_URL={fake.api_url}\nresponse_url: {fake.response_url('demo')}", flush=True)
    uvicorn.run(fake.build_app(), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
