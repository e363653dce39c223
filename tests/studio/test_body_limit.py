"""Request bodies are limited in the server layer, while they arrive: a huge body is refused before it is stored.

Against a real server process (studio.server, as the launcher and the README run it), with raw sockets, so
the test controls exactly what is sent and when. The real 250 MB case is tests/benchmarks/bench_body_limit.py.
"""

from __future__ import annotations

import json
import select
import socket
from urllib.parse import urlsplit

import pytest

from tests.live import studio_server
from tests.processes import open_temporary_bytes

MB = 1024 * 1024
PAGE_LIMIT_MESSAGE = (
    "This request is larger than the studio accepts here (5 MB). Only dataset uploads may be larger."
)
UPLOAD_LIMIT_MESSAGE = (
    "This upload is larger than the studio accepts (8 MB a file). "
    "Split it into smaller files, or ask whoever runs the studio to raise STUDIO_MAX_UPLOAD_MB."
)


@pytest.fixture(scope="module")
def server(django_db_setup, tmp_path_factory):
    temp = tmp_path_factory.mktemp("server-tmp")
    with studio_server(embedded_workers=False, TMPDIR=str(temp), STUDIO_MAX_UPLOAD_MB="8") as (url, process):
        yield url, process, temp


def _head(method: str, path: str, **headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _read_response(connection: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    try:
        while chunk := connection.recv(65536):
            data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = [line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
            if length and len(body) >= int(length[0].split(b":")[1]):
                break
    except ConnectionResetError:
        pass
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body


def _send(url: str, head: bytes, chunks=(), watch=None) -> tuple[int, dict[str, str], bytes]:
    """Send ``head`` then ``chunks`` until the server answers; ``watch`` is called after each chunk."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as connection:
        connection.sendall(head)
        for chunk in chunks:
            if select.select([connection], [], [], 0)[0]:
                break  # answered already
            try:
                connection.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            if watch:
                watch()
        return _read_response(connection)


def test_a_declared_huge_body_to_the_login_page_is_refused_before_any_of_it_is_read(server):
    url, process, temp = server
    head = _head("POST", "/accounts/login/", Content_Type="application/x-www-form-urlencoded",
                 Content_Length=str(250 * MB), Expect="100-continue")
    status, headers, body = _send(url, head)  # no body sent at all: the answer comes from the headers
    assert status == 413
    assert body.decode() == PAGE_LIMIT_MESSAGE
    assert headers["connection"] == "close"
    assert open_temporary_bytes(process.pid, temp) == 0


def test_a_chunked_stream_is_cut_off_at_the_limit_and_nothing_of_it_is_kept(server):
    url, process, temp = server
    chunk = b"x" * (256 * 1024)
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    peak = []
    head = _head("POST", "/accounts/login/", Content_Type="application/x-www-form-urlencoded",
                 Transfer_Encoding="chunked")
    watch = lambda: peak.append(open_temporary_bytes(process.pid, temp))  # noqa: E731
    status, _, body = _send(url, head, [framed] * 64, watch=watch)
    assert status == 413 and body.decode() == PAGE_LIMIT_MESSAGE
    assert max(peak) <= 5 * MB  # never more than the limit held
    assert open_temporary_bytes(process.pid, temp) == 0  # and that is gone once refused


def test_upload_routes_take_bodies_up_to_the_upload_limit_and_no_further(server):
    url, _, _ = server
    multipart = {"Content_Type": "multipart/form-data; boundary=xyz"}
    body = b"y" * (7 * MB)
    head = _head("POST", "/t/acme/datasets/upload/", Content_Length=str(len(body)), **multipart)
    status, _, page = _send(url, head, [body[i:i + MB] for i in range(0, len(body), MB)])
    assert status == 403 and b"This form has expired" in page  # through to the studio itself: no CSRF token

    status, _, page = _send(url, _head("POST", "/t/acme/datasets/upload/", Content_Length=str(10 * MB), **multipart))
    assert status == 413 and page.decode() == UPLOAD_LIMIT_MESSAGE


def test_the_api_answers_413_in_json(server):
    url, _, _ = server
    status, headers, body = _send(url, _head("POST", "/api/v1/datasets/", Content_Length=str(10 * MB),
                                             Content_Type="multipart/form-data; boundary=xyz"))
    assert (status, headers["content-type"]) == (413, "application/json")
    assert json.loads(body) == {"detail": UPLOAD_LIMIT_MESSAGE}
    status, _, body = _send(url, _head("POST", "/api/v1/products/", Content_Length=str(6 * MB),
                                       Content_Type="application/json"))
    assert status == 413 and json.loads(body) == {"detail": PAGE_LIMIT_MESSAGE}
