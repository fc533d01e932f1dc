"""Known vulnerabilities in the installed packages, by pip-audit; being offline is no failure.

    python -m tools.audit [pip-audit options, e.g. -s osv]

Exits 1 when pip-audit finds a vulnerability; exits 0 with a note when the vulnerability
service cannot be reached, or knows none of the packages (a private mirror, say), since
neither says anything about the packages.
"""

import json
import subprocess
import sys

# What pip-audit and requests print when the service is out of reach.
NETWORK_ERRORS = (
    "Could not connect",
    "network may be blocking",
    "ConnectionError",
    "ConnectTimeout",
    "ReadTimeout",
    "NameResolutionError",
    "Max retries exceeded",
)


def verdict(returncode: int, stdout: str, stderr: str) -> tuple[int, str]:
    """Exit status and summary for one pip-audit run in JSON format."""
    try:
        dependencies = json.loads(stdout)["dependencies"]
    except (json.JSONDecodeError, KeyError, TypeError):
        if any(marker in stderr for marker in NETWORK_ERRORS):
            return 0, "audit skipped: the vulnerability service cannot be reached"
        return returncode or 1, f"pip-audit failed:\n{stderr.strip()}"
    found = [
        f"{dep['name']} {dep['version']}: {vuln['id']} "
        f"(fixed in {', '.join(vuln['fix_versions']) or 'no release yet'})"
        for dep in dependencies
        for vuln in dep.get("vulns", ())
    ]
    if found:
        return 1, "\n".join([f"{len(found)} known vulnerabilities:", *found])
    audited = sum("skip_reason" not in dep for dep in dependencies)
    if dependencies and not audited:
        return 0, (
            f"audit skipped: the vulnerability service knows none of the {len(dependencies)} "
            "packages (unreachable, or a mirror without its data)"
        )
    return returncode, (
        f"no known vulnerabilities in {audited} packages "
        f"({len(dependencies) - audited} not audited)"
    )


def main(args: list[str]) -> int:
    command = [sys.executable, "-m", "pip_audit", "--progress-spinner", "off", "--skip-editable"]
    done = subprocess.run(
        [*command, "--format", "json", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    status, summary = verdict(done.returncode, done.stdout, done.stderr)
    print(summary)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
