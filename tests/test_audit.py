"""`make audit`'s verdict on pip-audit's output: vulnerabilities fail, being offline does not."""

import json

from tools.audit import verdict


def report(*dependencies: dict) -> str:
    return json.dumps({"dependencies": list(dependencies), "fixes": []})


CLEAN = {"name": "numpy", "version": "2.0.0", "vulns": []}
SKIPPED = {"name": "torch", "skip_reason": "Dependency not found and could not be audited"}


def test_audit_fails_on_a_known_vulnerability() -> None:
    bad = {
        "name": "pillow",
        "version": "9.0.0",
        "vulns": [{"id": "PYSEC-1", "fix_versions": ["9.0.1"]}],
    }
    status, summary = verdict(1, report(CLEAN, bad), "")
    assert status == 1 and "pillow 9.0.0: PYSEC-1 (fixed in 9.0.1)" in summary


def test_audit_passes_when_nothing_is_known() -> None:
    status, summary = verdict(0, report(CLEAN, SKIPPED), "")
    assert status == 0 and "1 packages (1 not audited)" in summary


def test_audit_is_skipped_when_the_service_cannot_be_reached() -> None:
    stderr = "requests.exceptions.ConnectionError: ... Max retries exceeded with url: /v1/query"
    assert verdict(1, "", stderr) == (
        0,
        "audit skipped: the vulnerability service cannot be reached",
    )


def test_audit_is_skipped_when_the_service_knows_no_package() -> None:
    status, summary = verdict(0, report(SKIPPED, SKIPPED), "")
    assert status == 0 and "audit skipped" in summary


def test_audit_fails_when_pip_audit_itself_fails() -> None:
    status, summary = verdict(2, "", "usage: pip-audit: error: unrecognized arguments")
    assert status == 2 and "unrecognized" in summary
