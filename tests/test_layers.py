"""The layers of ARCHITECTURE.md, as the import-linter contracts in pyproject.toml check them."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: What the web tier may import from inference/ (plain messages, job rows and their reads, model ids and paths,
#: the models folder's rules).
WEB_MAY_IMPORT = {"protocol", "client", "models", "selectors", "registry", "model_folder"}
#: Loaded by Django itself, never imported by our code.
DJANGO_LOADS = {"apps", "migrations"}


def _contract(contract_id: str) -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return next(c for c in config["contracts"] if c["id"] == contract_id)


def test_every_module_of_inference_is_either_open_to_the_web_tier_or_forbidden_to_it():
    forbidden = {name.removeprefix("inference.") for name in _contract("web-tier-no-worker-code")["forbidden_modules"]}
    modules = {
        path.stem if path.is_file() else path.name
        for path in (ROOT / "inference").iterdir()
        if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").is_file()
    }
    unclassified = modules - WEB_MAY_IMPORT - DJANGO_LOADS - forbidden
    assert not unclassified, (
        f"inference.{', inference.'.join(sorted(unclassified))}: add it to the forbidden_modules of the "
        "web-tier-no-worker-code contract in pyproject.toml, or to WEB_MAY_IMPORT here if the web tier needs it "
        "(then it must stay free of torch and of worker code)."
    )
    assert not WEB_MAY_IMPORT & forbidden


def test_the_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
