"""The CI audit step prints every finding and fails only on one that a release fixes."""

from __future__ import annotations

import importlib.util

from tests.processes import ROOT

spec = importlib.util.spec_from_file_location("audit_dependencies", ROOT / ".ci" / "audit_dependencies.py")
audit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(audit)


def _report(*vulns_by_package) -> dict:
    return {"dependencies": [{"name": name, "version": "1.0", "vulns": vulns} for name, vulns in vulns_by_package]}


def test_no_findings_pass_and_say_how_many_packages_were_checked():
    assert audit.summary(_report(("django", []), ("numpy", []))) == (
        ["pip-audit: no known vulnerabilities in 2 packages."], False)


def test_a_finding_without_a_fix_is_printed_but_tolerated():
    lines, failing = audit.summary(_report(("oldlib", [{"id": "GHSA-1", "fix_versions": []}])))
    assert lines == ["pip-audit: 1 known vulnerability:", "  oldlib 1.0: GHSA-1, no fixed release yet (tolerated)"]
    assert not failing


def test_a_fixable_finding_fails_and_names_the_release():
    lines, failing = audit.summary(_report(
        ("oldlib", [{"id": "GHSA-1", "fix_versions": []}]), ("django", [{"id": "PYSEC-9", "fix_versions": ["5.2.9"]}]),
    ))
    assert "  django 1.0: PYSEC-9, fixed in 5.2.9" in lines and failing
