"""Peak temporary-folder bytes a server holds for an anonymous 250 MB POST to the login page.

Starts the studio's server (studio.server) and, for comparison, plain daphne, each with its own
TMPDIR, sends the body as fast as the socket takes it (declared Content-Length, then chunked), and
polls the bytes of the files under TMPDIR the server process holds open (deleted temporary files
included). Prints one line per case.

    .venv/bin/python tests/benchmarks/bench_body_limit.py [--mb 250]
"""

from __future__ import annotations

import argparse
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from tests.processes import open_temporary_bytes  # noqa: E402

MB = 1024 * 1024


def start(module: str, port: int, folder: Path) -> subprocess.Popen:
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "studio.settings", "SECRET_KEY": "bench-" + "k" * 60, "STUDIO_HTTPS": "0",
        "STUDIO_MANIFEST_STATIC": "0", "STUDIO_VAR_DIR": str(folder / "var"), "TMPDIR": str(folder / "tmp"),
        "PYTHONPATH": str(REPO_ROOT), "STUDIO_EMBEDDED_WORKERS": "0",
    }
    (folder / "tmp").mkdir()
    command = [sys.executable, "-m", module, "-b", "127.0.0.1", "-p", str(port), "studio.asgi:application"]
    server = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{module} did not start within 60 s.")


def post(port: int, size: int, chunked: bool) -> tuple[str, int]:
    """Send the body until the server answers; returns (status line, bytes sent)."""
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
    head = (f"POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\n{framing}\r\n\r\n").encode()
    block = b"a" * MB
    piece = (f"{MB:x}\r\n".encode() + block + b"\r\n") if chunked else block
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=120) as connection:
        connection.sendall(head)
        try:
            while sent < size and not select.select([connection], [], [], 0)[0]:
                connection.sendall(piece)
                sent += MB
            if chunked and sent >= size:
                connection.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            answer = connection.recv(4096).split(b"\r\n", 1)[0].decode()
        except ConnectionResetError:
            answer = "(connection reset)"
    return answer, sent


def measure(module: str, size: int, chunked: bool) -> tuple[str, int, int]:
    with tempfile.TemporaryDirectory(prefix="bench-body-") as name:
        folder = Path(name)
        port = 18000 + os.getpid() % 1000 + (chunked * 2) + (module == "daphne")
        server = start(module, port, folder)
        peak, done = [0], threading.Event()

        def poll() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], open_temporary_bytes(server.pid, folder / "tmp"))
                time.sleep(0.005)

        watcher = threading.Thread(target=poll, daemon=True)
        watcher.start()
        try:
            answer, sent = post(port, size, chunked)
            time.sleep(0.5)  # the application may still be reading its copy
        finally:
            done.set()
            watcher.join()
            server.terminate()
            server.wait(timeout=20)
        return answer, sent, peak[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=250)
    size = parser.parse_args().mb * MB
    print(f"Anonymous {size // MB} MB POST to /accounts/login/; peak bytes in the server's temporary folder")
    for module in ("studio.server", "daphne"):
        for chunked in (False, True):
            answer, sent, peak = measure(module, size, chunked)
            framing = "chunked" if chunked else "Content-Length"
            print(f"  {module:14} {framing:15} answer: {answer:32} sent {sent / MB:6.0f} MB   "
                  f"peak temp {peak:>12,} bytes ({peak / MB:.1f} MB)")


if __name__ == "__main__":
    main()
