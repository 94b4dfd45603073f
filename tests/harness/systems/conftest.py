"""A scripted OpenAI-compatible server on 127.0.0.1 for the openai system's unit tests."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator

import pytest


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # None = a normal completion echoing the last user turn
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeServer:
    """Each request pops the next scripted :class:`Reply` (a normal answer once the script is
    empty) and is logged in ``seen``; ``max_in_flight`` is the most requests open at once."""

    url: str = ""
    script: list[Reply] = field(default_factory=list)
    seen: list[dict[str, Any]] = field(default_factory=list)
    headers_seen: list[dict[str, str]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    default_delay_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    answer: Callable[[dict[str, Any]], str] = lambda body: "echo: " + (body["messages"][-1]["content"] if "messages" in body else body["prompt"])
    fault: Callable[[int], Reply | None] | None = None  # request number (0-based) -> injected reply, or None
    untracked: set[int] = field(default_factory=set)  # request numbers left out of in_flight (the client gave up on them)


def _handler(state: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with state.lock:
                number = len(state.seen)
                state.seen.append({"path": self.path, **body})
                state.headers_seen.append(dict(self.headers))
                injected = state.fault(number) if state.fault is not None else None
                reply = state.script.pop(0) if state.script else injected or Reply(delay_s=state.default_delay_s)
                tracked = number not in state.untracked
                state.in_flight += tracked
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
            try:
                time.sleep(reply.delay_s)
                if reply.body is not None:
                    payload = reply.body
                else:
                    text = state.answer(body)
                    choice = {
                        "index": 0,
                        "finish_reason": "stop",
                        **({"message": {"role": "assistant", "content": text}} if "messages" in body else {"text": text}),
                    }
                    payload = {"id": "x", "model": body["model"], "choices": [choice], "usage": {"prompt_tokens": 7, "completion_tokens": len(text.split())}}
                data = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and hung up
            finally:
                with state.lock:
                    state.in_flight -= tracked

    return Handler


class LoopbackServer:
    """Serves a :class:`FakeServer` on 127.0.0.1; a test can stop it and bring it back on the
    same port mid-run (:meth:`restart_when`)."""

    def __init__(self, state: FakeServer) -> None:
        self.state = state
        self._server = self._start(0)
        self.port = self._server.server_address[1]
        state.url = f"http://127.0.0.1:{self.port}/v1"
        self.went_down = threading.Event()

    def _start(self, port: int) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self.state))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def _stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def restart_when(self, seen: int, down_s: float) -> threading.Thread:
        """Start a thread that stops the server once it has seen ``seen`` requests and restarts
        it ``down_s`` seconds later; join it before :meth:`close`."""

        def flip() -> None:
            while len(self.state.seen) < seen:
                time.sleep(0.005)
            self._stop()
            self.went_down.set()
            time.sleep(down_s)
            self._server = self._start(self.port)

        thread = threading.Thread(target=flip)
        thread.start()
        return thread

    def close(self) -> None:
        self._stop()


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    state = FakeServer()
    server = LoopbackServer(state)
    yield state
    server.close()
