"""Every environment variable the studio reads, declared once with its type and default.

Settings, the launcher and the workers import from here; nothing else reads ``os.environ``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise RuntimeError(f"{name} must be a whole number, got {raw!r}.") from exc


def _str(name: str, default: str) -> str:
    return os.environ.get(name) or default


_ENGINE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_ENGINES_HELP = ("write name=URL pairs separated by commas, e.g. "
                 "STUDIO_REMOTE_ENGINES=gpu=https://gpu-host:8000/v1,local=http://127.0.0.1:9000/v1")


def remote_engines_parse(raw: str, *, name: str = "STUDIO_REMOTE_ENGINES") -> dict[str, str]:
    """``name=https://host:8000/v1,…`` → {name: base URL}; a bad entry raises naming the fix.

    Public so a test can check the rules without restarting the process.
    """
    engines: dict[str, str] = {}
    for entry in (item.strip() for item in raw.split(",")):
        if not entry:
            continue
        engine, sep, url = (part.strip() for part in entry.partition("="))
        if not sep or not _ENGINE_NAME.match(engine):
            raise RuntimeError(f"{name}: {entry!r} is not name=URL (a name is lowercase letters, digits, - or _); "
                               f"{_ENGINES_HELP}.")
        parsed = urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise RuntimeError(f"{name}: the URL of {engine!r} must start with http:// or https:// and name a host, "
                               f"got {url!r}; {_ENGINES_HELP}.")
        if parsed.username or parsed.password or parsed.query or parsed.fragment:
            raise RuntimeError(f"{name}: the URL of {engine!r} may not carry a user, a password, a query or a "
                               "fragment (an API key is set per product version, on its Engine tab).")
        if engine in engines:
            raise RuntimeError(f"{name}: the name {engine!r} is listed twice; give each engine its own name.")
        engines[engine] = url.rstrip("/")
    return engines


def _list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if not raw:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


# Development conveniences (detailed error pages, no HTTPS redirects). Off unless asked for.
DEBUG: bool = _bool("DEBUG", False)
# Signs sessions and tokens. Required unless STUDIO_SECRET_KEY_FILE (or DEBUG) lets the studio make one.
SECRET_KEY: str = _str("SECRET_KEY", "")
# Old secrets, comma-separated, still accepted when checking signatures while you rotate SECRET_KEY.
SECRET_KEY_FALLBACKS: list[str] = _list("SECRET_KEY_FALLBACKS", [])
# A file holding the secret when SECRET_KEY is unset: made once (random, owner-only) if missing, then
# read on every start. `python -m studio` points it at var/secret_key; DEBUG uses that file too.
SECRET_KEY_FILE: str = _str("STUDIO_SECRET_KEY_FILE", "")
# Host names the site answers to, comma-separated.
ALLOWED_HOSTS: list[str] = _list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
# Origins trusted for CSRF on HTTPS deployments, e.g. https://studio.example.com.
CSRF_TRUSTED_ORIGINS: list[str] = _list("CSRF_TRUSTED_ORIGINS", [])
# postgres://user@host:5432/name in production; SQLite under var/ when unset.
DATABASE_URL: str = _str("DATABASE_URL", "")
# redis://host:6379/0 for the channel layer across processes; in-memory layer when unset.
REDIS_URL: str = _str("REDIS_URL", "")
# Where local state lives: the SQLite file, uploads, converted models, artifacts.
VAR_DIR: Path = Path(_str("STUDIO_VAR_DIR", str(BASE_DIR / "var")))
# Uploaded datasets and training artifacts.
MEDIA_ROOT: Path = Path(_str("MEDIA_ROOT", str(VAR_DIR / "media")))
# Converted base models (SmolLM2 as safetensors, MiniLM) and any registered model directories.
MODELS_DIR: Path = Path(_str("MODELS_DIR", str(VAR_DIR / "models")))
# Torch device for inference and training: auto (cuda when present), cpu or cuda.
DEVICE: str = _str("STUDIO_DEVICE", "auto")
# Run the inference and training workers inside the web process (the one-command default).
EMBEDDED_WORKERS: bool = _bool("STUDIO_EMBEDDED_WORKERS", False)
# Seconds a training worker's claim on a run lasts without a heartbeat; a run whose lease runs out
# (worker killed, machine lost) goes back in the queue and resumes from its last checkpoint.
TRAINING_LEASE_SECONDS: int = _int("STUDIO_TRAINING_LEASE_S", 60)
# Times a run may be started before a lost worker fails it for good.
TRAINING_MAX_ATTEMPTS: int = _int("STUDIO_TRAINING_MAX_ATTEMPTS", 3)
# Seconds an idle training worker waits before looking for queued runs again.
TRAINING_POLL_SECONDS: int = _int("STUDIO_TRAINING_POLL_S", 2)
# Seconds an index worker's claim on a knowledge-index build lasts without a heartbeat (then it is rebuilt).
INDEX_LEASE_SECONDS: int = _int("STUDIO_INDEX_LEASE_S", 30)
# Seconds a label worker's claim on a "label a file" job lasts without a heartbeat (then it starts again).
LABEL_LEASE_SECONDS: int = _int("STUDIO_LABEL_LEASE_S", 30)
# Seconds a blind comparison waits for one generation to be recorded before it retries it (once), then gives up.
COMPARISON_ITEM_TIMEOUT_S: float = float(_str("STUDIO_COMPARISON_ITEM_TIMEOUT_S", "240"))
# Megabytes of knowledge indexes (vectors, texts, BM25) an inference worker holds; least recently used go first.
KNOWLEDGE_CACHE_MB: int = _int("STUDIO_KNOWLEDGE_CACHE_MB", 512)
# Precision the classify runner serves trained classifiers in: auto (bf16 where the CPU has AVX512-BF16/AMX
# or on a GPU, else fp32), fp32, bf16 or int8 (CPU only). Measured in tests/benchmarks/bench_classifier.py.
CLASSIFY_PRECISION: str = _str("STUDIO_CLASSIFY_PRECISION", "auto")
if CLASSIFY_PRECISION not in ("auto", "fp32", "bf16", "int8"):
    raise RuntimeError(f"STUDIO_CLASSIFY_PRECISION must be auto, fp32, bf16 or int8, got {CLASSIFY_PRECISION!r}.")
# Most sequences one inference worker decodes together (continuous batching).
INFERENCE_MAX_BATCH: int = _int("STUDIO_INFERENCE_MAX_BATCH", 16)
# Seconds a generation waits for an inference worker to take it before the person reads "not answering".
INFERENCE_START_TIMEOUT_S: float = float(_str("STUDIO_INFERENCE_START_TIMEOUT_S", "5"))
# Longest silence (seconds) between two events of a running generation before the client gives up on the
# worker; above the worker's own 90 s limit per generation, so only a dead or hung worker reaches it.
INFERENCE_IDLE_TIMEOUT_S: float = float(_str("STUDIO_INFERENCE_IDLE_TIMEOUT_S", "120"))
# Generation engine: auto (llama.cpp on the CPU when it is installed and passes a one-token smoke
# test, else torch), llamacpp or torch. torch is also what auto picks on a GPU.
ENGINE: str = _str("STUDIO_ENGINE", "auto")
# CPU threads of a llama.cpp decode step. 1 by default: measured on 2 shared cores, 2 threads
# spin-wait against the web server and training and fall far behind (tests/benchmarks/bench_engine_load.py).
ENGINE_THREADS: int = _int("STUDIO_ENGINE_THREADS", 1)
# Tokens of context each llama.cpp batch slot has (prompt + reply); fixed per slot.
ENGINE_SLOT_CONTEXT: int = _int("STUDIO_ENGINE_SLOT_CONTEXT", 2048)
# llama.cpp KV cache type: q8_0 (half the memory of f16) or f16.
ENGINE_KV_TYPE: str = _str("STUDIO_ENGINE_KV_TYPE", "q8_0")
# A file to append one JSON line to at each step of a generation's way to its first token (studio/timeline.py),
# from every process on the path; empty (the default) records nothing. For tests/benchmarks/ scripts.
TTFT_TRACE: str = _str("STUDIO_TTFT_TRACE", "")
# Seconds a request may wait for a free batch slot before it ends with "try again in a moment".
QUEUE_WAIT_SECONDS: int = _int("STUDIO_QUEUE_WAIT_S", 120)
# Playground generations one person may start per minute.
PLAYGROUND_GENERATIONS_PER_MINUTE: int = _int("STUDIO_PLAYGROUND_PER_MINUTE", 30)
# Playground generations all the people of one team may start per minute together (variants count).
TEAM_PLAYGROUND_GENERATIONS_PER_MINUTE: int = _int("STUDIO_TEAM_PLAYGROUND_PER_MINUTE", 120)
# Behind a TLS-terminating proxy: trust X-Forwarded-Proto and send HTTPS-only cookies.
HTTPS: bool = _bool("STUDIO_HTTPS", not DEBUG)
# Hashed static file names (needs `manage.py collectstatic`); off for the one-command run, which
# serves the app folders' files directly.
MANIFEST_STATIC: bool = _bool("STUDIO_MANIFEST_STATIC", not DEBUG)
# Seconds browsers should remember to use HTTPS only (HSTS); 0 turns it off.
HSTS_SECONDS: int = _int("STUDIO_HSTS_SECONDS", 31_536_000 if not DEBUG else 0)
# Outgoing mail; the console backend prints invitation links to the server's terminal.
EMAIL_BACKEND: str = _str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL: str = _str("DEFAULT_FROM_EMAIL", "studio@localhost")
# Largest accepted upload, in megabytes.
MAX_UPLOAD_MB: int = _int("STUDIO_MAX_UPLOAD_MB", 200)
# Embed widget defaults for new products (each product's Embed tab can change its own).
WIDGET_MESSAGES_PER_VISITOR_HOUR: int = _int("STUDIO_WIDGET_PER_VISITOR_HOUR", 20)
WIDGET_MESSAGES_PER_PRODUCT_DAY: int = _int("STUDIO_WIDGET_PER_PRODUCT_DAY", 1000)
# Generations one API key may start per minute (REST API and /v1/chat/completions).
API_GENERATIONS_PER_MINUTE: int = _int("STUDIO_API_PER_MINUTE", 60)
# Generations all the API keys of one team may start per minute together, so more keys buy no more.
TEAM_API_GENERATIONS_PER_MINUTE: int = _int("STUDIO_TEAM_API_PER_MINUTE", 120)
# Reverse proxies (IP addresses or CIDR ranges, comma-separated) whose X-Forwarded-For is believed
# when rate-limiting visitors; empty trusts nobody, so a spoofed header cannot reset a limit.
TRUSTED_PROXIES: list[str] = _list("STUDIO_TRUSTED_PROXIES", [])
# OpenAI-compatible servers (vLLM, llama.cpp's server) product versions may stream from, as
# name=base URL pairs, comma-separated: gpu=https://gpu-host:8000/v1. Admins pick a name, never type a
# URL (open sign-up makes any stranger an admin of their own team: no server-side request forgery).
REMOTE_ENGINES: dict[str, str] = remote_engines_parse(os.environ.get("STUDIO_REMOTE_ENGINES", ""))
# Seconds to connect to a remote engine, and the longest silence while it answers, before people read
# "the remote engine is not answering".
REMOTE_CONNECT_TIMEOUT_S: float = float(_str("STUDIO_REMOTE_CONNECT_TIMEOUT_S", "3"))
REMOTE_READ_TIMEOUT_S: float = float(_str("STUDIO_REMOTE_READ_TIMEOUT_S", "10"))
# Log level for the studio's own loggers.
LOG_LEVEL: str = _str("LOG_LEVEL", "INFO")
