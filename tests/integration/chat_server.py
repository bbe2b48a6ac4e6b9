"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1 for judge tests.

``ScriptedChatServer`` is a real aiohttp server (port 0) that answers ``POST
/v1/chat/completions``. A test scripts it with ``on(marker, reply)``: the first marker found
in the request's user message picks the reply (JSON content, raw text, an HTTP error, a raw
body, or a delay first). Every request is recorded (headers and JSON body) so tests can
check what the client sent. Unscripted requests get HTTP 418, which no judge accepts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class Reply:
    """What the server does for a scripted request."""

    content: str | None = None  # the assistant message content (None: see body)
    status: int = 200
    delay_s: float = 0.0  # sleep this long before answering
    body: dict[str, Any] | None = None  # a raw response body instead of a completion

    @classmethod
    def answer(cls, **fields: Any) -> Reply:
        """An assistant message whose content is ``fields`` as JSON."""
        return cls(content=json.dumps(fields))


@dataclass(frozen=True)
class ReceivedRequest:
    headers: dict[str, str]
    body: dict[str, Any]

    def message(self, role: str) -> str:
        return "\n".join(m["content"] for m in self.body["messages"] if m["role"] == role)


@dataclass
class ScriptedChatServer:
    """Start with ``await start()``; ``base_url`` is then ``http://127.0.0.1:PORT/v1``."""

    script: dict[str, Reply] = field(default_factory=dict)
    requests: list[ReceivedRequest] = field(default_factory=list)
    base_url: str = ""
    _runner: web.AppRunner | None = None
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def on(self, marker: str, reply: Reply) -> None:
        """Answer requests whose user message contains ``marker`` with ``reply``."""
        self.script[marker] = reply

    def last_request(self) -> ReceivedRequest:
        return self.requests[-1]

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._handle)
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self.base_url

    async def stop(self) -> None:
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        received = ReceivedRequest(headers=dict(request.headers), body=body)
        self.requests.append(received)
        reply = self._reply_for(received.message("user"))
        if reply is None:
            return web.json_response({"error": "no scripted reply"}, status=418)
        if reply.delay_s:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), reply.delay_s)
        if reply.status >= 400:
            return web.json_response({"error": {"message": "scripted"}}, status=reply.status)
        if reply.body is not None:
            return web.json_response(reply.body)
        return web.json_response(_completion(body.get("model", ""), reply.content or ""))

    def _reply_for(self, user_message: str) -> Reply | None:
        for marker, reply in self.script.items():
            if marker in user_message:
                return reply
        return None


def _completion(model: str, content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }
