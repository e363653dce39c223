"""CI step: known vulnerabilities in the installed packages (pip-audit), printed; fails only on fixable ones.

A finding with a fixed release fails the step (upgrade the pin); one without a fix is printed and
tolerated, since there is nothing to upgrade to. When the vulnerability service cannot be reached the
step says so and passes: it must not turn a network hiccup into a red build.

    .venv/bin/python .ci/audit_dependencies.py
"""

from __future__ import annotations

import json
import subprocess
import sys


def findings(report: dict) -> list[tuple[str, str, str, list[str]]]:
    """(package, version, vulnerability id, versions that fix it) for every finding in a pip-audit JSON report."""
    return [
        (dependency["name"], dependency.get("version", "?"), vuln["id"], list(vuln.get("fix_versions") or []))
        for dependency in report.get("dependencies", [])
        for vuln in dependency.get("vulns", [])
    ]


def summary(report: dict) -> tuple[list[str], bool]:
    """Lines to print and whether the step fails (some finding has a fix)."""
    found = findings(report)
    if not found:
        return [f"pip-audit: no known vulnerabilities in {len(report.get('dependencies', []))} packages."], False
    lines = [f"pip-audit: {len(found)} known vulnerabilit{'y' if len(found) == 1 else 'ies'}:"]
    for name, version, vuln_id, fixes in found:
        remedy = f"fixed in {', '.join(fixes)}" if fixes else "no fixed release yet (tolerated)"
        lines.append(f"  {name} {version}: {vuln_id}, {remedy}")
    fixable = any(fixes for *_, fixes in found)
    if fixable:
        lines.append("pip-audit: upgrade the packages that have a fixed release (pyproject.toml), then rerun.")
    return lines, fixable


def main() -> int:
    command = [sys.executable, "-m", "pip_audit", "--format", "json", "--progress-spinner", "off", "--skip-editable"]
    result = subprocess.run(command, capture_output=True, text=True)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        print("pip-audit could not produce a report (is the vulnerability service reachable?); not failing CI.")
        print(result.stderr.strip()[-2000:])
        return 0
    lines, failing = summary(report)
    print("\n".join(lines))
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
