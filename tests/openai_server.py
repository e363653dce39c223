"""Real OpenAI-compatible servers for tests: stdlib http.server in a thread, speaking the streaming SSE format of
/v1/chat/completions. Shared by the remote-engine tests (tests/inference) and the Engine tab's browser journey.

Real sockets and real HTTP, so the studio's httpx client, timeouts and SSE parsing are what is under test; only
the model behind the server is scripted.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def serving(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve ``handler`` (an http.server request handler class) on a free localhost port in a thread; yields its /v1."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def silent_server():
    """A real TCP server that accepts connections and never answers (a hung engine)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A request handler that keeps the test output clean and reads the JSON body a client posted."""

    def read_json(self) -> dict[str, Any]:
        return json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")

    def log_message(self, *args):
        pass


def content_chunk(text: str) -> dict[str, Any]:
    """One streamed chunk carrying ``text`` as the first choice's delta."""
    return {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}


def finish_chunk(reason: str = "stop", usage: dict[str, int] | None = None) -> dict[str, Any]:
    """The chunk that ends the choice (``usage`` on it, as some servers send it, when given)."""
    chunk: dict[str, Any] = {"choices": [{"index": 0, "delta": {}, "finish_reason": reason}]}
    return chunk | ({"usage": usage} if usage else {})


def sse_event(data: dict[str, Any] | str) -> bytes:
    """``data: …`` and the blank line that ends an SSE event; ``data`` a chunk, or the literal ``[DONE]``."""
    return f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n".encode()
