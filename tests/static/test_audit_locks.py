"""scripts/audit_locks.sh against a fake pip-audit: what fails the run, what is only reported, what
is skipped."""

import os
import subprocess

import pytest
from static_helpers import ROOT, write_executable

SCRIPT = os.path.join(ROOT, "scripts", "audit_locks.sh")

# The fake answers by lock file name: FAKE_<stem>=clean|vuln|offline|unknown (default clean).
FAKE = r"""#!/usr/bin/env bash
echo "$@" >>"$FAKE_LOG"
lock="$2"; stem="$(basename "$lock" .lock)"; stem="${stem//-/_}"
var="FAKE_${stem}"
case "${!var:-clean}" in
  clean) echo "No known vulnerabilities found"; exit 0 ;;
  vuln) echo "pillow 9.5.0 PYSEC-2023-227 10.2.0"; exit 1 ;;
  unknown) echo "pillow  Dependency not found on PyPI and could not be audited: pillow (9.5.0)"
           exit 0 ;;
  offline) echo "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='api.osv.dev')"
           exit 1 ;;
esac
"""


@pytest.fixture
def audit(tmp_path):
    fake = write_executable(tmp_path / "pip-audit", FAKE)
    locks = tmp_path / "docker"
    locks.mkdir()
    for name in ("requirements-legacy.lock", "requirements-cpu.lock"):
        (locks / name).write_text("# header\npillow==9.5.0\nnumpy==1.23.5\n")

    def run(**fake_env):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MQ_AUDIT", "FAKE_"))}
        env.update(PIP_AUDIT=fake, FAKE_LOG=str(tmp_path / "calls"), **fake_env)
        return subprocess.run(
            [SCRIPT, str(locks / "requirements-legacy.lock"), str(locks / "requirements-cpu.lock")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, env=env)
    run.calls = tmp_path / "calls"
    return run


def test_audit_clean_locks_pass_and_ask_osv_without_installing(audit):
    proc = audit()
    assert proc.returncode == 0, proc.stdout
    assert "no known vulnerability: requirements-legacy.lock requirements-cpu.lock" in proc.stdout
    calls = audit.calls.read_text().splitlines()
    assert len(calls) == 2
    for call in calls:
        assert "--no-deps" in call and "--disable-pip" in call
        assert "--vulnerability-service osv" in call


def test_audit_a_finding_in_a_patched_flavour_fails(audit):
    proc = audit(FAKE_requirements_cpu="vuln")
    assert proc.returncode == 1
    assert "FINDINGS: requirements-cpu.lock" in proc.stdout and "PYSEC-2023-227" in proc.stdout


def test_audit_legacy_findings_are_reported_not_failed(audit):
    proc = audit(FAKE_requirements_legacy="vuln")
    assert proc.returncode == 0, proc.stdout
    assert "findings kept on purpose (report only" in proc.stdout
    assert "requirements-legacy.lock" in proc.stdout
    assert "PYSEC-2023-227" in proc.stdout


def test_audit_unreachable_service_is_a_skip_here_and_a_failure_when_required(audit):
    proc = audit(FAKE_requirements_cpu="offline", FAKE_requirements_legacy="offline")
    assert proc.returncode == 0
    assert "SKIPPED, the osv vulnerability service is not reachable" in proc.stdout
    assert "Traceback" not in proc.stdout
    required = audit(FAKE_requirements_cpu="offline", MQ_AUDIT_REQUIRED="1")
    assert required.returncode == 3


def test_audit_pins_the_service_could_not_look_up_are_not_called_clean(audit):
    proc = audit(FAKE_requirements_cpu="unknown")
    assert proc.returncode == 0
    expected = "NOT AUDITED, unknown to the osv service: requirements-cpu.lock (1 of 2 pins)"
    assert expected in proc.stdout
    assert "no known vulnerability: requirements-legacy.lock\n" in proc.stdout


def test_audit_runs_in_the_users_workflow_with_a_pinned_pip_audit():
    workflow = open(os.path.join(ROOT, ".github", "workflows", "ci.yml")).read()
    assert "scripts/audit_locks.sh" in workflow and 'MQ_AUDIT_REQUIRED: "1"' in workflow
    pins = open(os.path.join(ROOT, ".github", "workflows", "audit-requirements.txt")).read()
    assert any(line.startswith("pip-audit==") for line in pins.splitlines())
