"""The studio's HTTP server: daphne, with request bodies limited while they arrive.

Twisted (under daphne) reads a whole request body into memory or a temporary file before the
application sees the request, so Django cannot refuse a huge body before it is stored. Here the
declared Content-Length is checked as soon as the headers are in, and the bytes of every body
(chunked ones included) are counted as they arrive: over the route's limit (studio.body_limit),
the client gets 413 at once and nothing more of the body is kept. Twisted's own parsing of form
bodies (a second, in-memory copy) is turned off.

Run it as daphne:  python -m studio.server -b 127.0.0.1 -p 8000 studio.asgi:application
"""

from __future__ import annotations

import io
import json
import logging

from daphne.cli import CommandLineInterface
from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.server import Server

from studio.body_limit import body_limit_bytes, body_too_large_message

logger = logging.getLogger(__name__)
# After answering 413, what the client still sends is read and dropped for this long, so it can read
# the answer instead of meeting a connection reset; then the connection is cut.
LINGER_S = 2.0


class BodyLimitedRequest(WebRequest):
    _refused = False

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Twisted would read a whole form or multipart body into memory to parse it into ``args``, which
        # daphne never uses: one more full copy of every upload. Django parses the body, streaming.
        self._parsePOSTFormSubmission = False

    def gotLength(self, length: int | None) -> None:  # noqa: N802 - Twisted's name
        self._method = (getattr(self.channel, "_command", b"") or b"").decode("latin-1")
        self._target = (getattr(self.channel, "_path", b"") or b"").decode("latin-1")
        self._limit = body_limit_bytes(self._method, self._target)
        self._received = 0
        if length is not None and length > self._limit:
            self.content = io.BytesIO()
            self._refuse()
            return
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:  # noqa: N802
        if self._refused:
            return  # dropped: nothing of a refused body is stored
        self._received += len(data)
        if self._received > self._limit:
            self._refuse()
            return
        super().handleContentChunk(data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:  # noqa: N802
        if not self._refused:  # a refused request never reaches the application
            super().requestReceived(command, path, version)

    def _refuse(self) -> None:
        self._refused = True
        self.content.close()  # a temporary file, if Twisted made one, goes now
        self.content = io.BytesIO()
        # Twisted would answer "100 Continue" after this; the client must not be asked for the body.
        self.requestHeaders.removeHeader(b"Expect")
        message = body_too_large_message(self._method, self._target)
        if self._target.startswith("/api/") or self._target.startswith("/v1/"):
            body, kind = json.dumps({"detail": message}).encode(), b"application/json"
        else:
            body, kind = message.encode(), b"text/plain; charset=utf-8"
        logger.info("Refused a request body over %s bytes: %s %s", self._limit, self._method, self._target[:200])
        transport = self.channel.transport
        transport.write(
            b"HTTP/1.1 413 Content Too Large\r\nContent-Type: " + kind
            + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
        )
        if hasattr(transport, "loseWriteConnection"):
            transport.loseWriteConnection()  # the answer, then end of stream; keep reading (and dropping)
        from twisted.internet import reactor  # daphne installed the asyncio reactor by now

        reactor.callLater(LINGER_S, _cut, transport)


def _cut(transport) -> None:
    if getattr(transport, "connected", False):
        transport.abortConnection()


class BodyLimitedHTTPFactory(HTTPFactory):
    def buildProtocol(self, addr):  # noqa: N802
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = BodyLimitedRequest
        return protocol


class StudioServer(Server):
    """daphne's server with the body-limited request. ``Server.run`` builds its HTTP factory itself,
    so the one it assigns is swapped for ours here."""

    @property
    def http_factory(self) -> HTTPFactory:
        return self._http_factory

    @http_factory.setter
    def http_factory(self, factory: HTTPFactory) -> None:
        self._http_factory = factory if isinstance(factory, BodyLimitedHTTPFactory) else BodyLimitedHTTPFactory(self)


class StudioCommandLine(CommandLineInterface):
    server_class = StudioServer


def main(argv: list[str] | None = None) -> None:
    if argv is None:
        StudioCommandLine.entrypoint()
    else:
        StudioCommandLine().run(argv)


if __name__ == "__main__":
    main()
