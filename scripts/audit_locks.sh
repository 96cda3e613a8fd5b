#!/usr/bin/env bash
# Scan the lock files for known vulnerabilities with pip-audit (OSV's advisory data by default).
#
# Usage: scripts/audit_locks.sh [LOCK ...]     (default: every docker/requirements-*.lock)
#
# Each lock is audited as written (--no-deps: the lock is complete; --disable-pip: nothing is installed).
# A finding in a lock fails the run, except in the locks kept on purpose (MQ_AUDIT_REPORT_ONLY, default the
# legacy ones: the unpatched 2021 forks on torch 1.10 need their old pins), whose findings are printed only.
#
# Settings (environment):
#   PIP_AUDIT             the pip-audit command (default: pip-audit)
#   MQ_AUDIT_SERVICE      osv (default) or pypi: the vulnerability service pip-audit asks
#   MQ_AUDIT_REPORT_ONLY  lock file names whose findings do not fail the run
#                         (default: requirements-legacy.lock requirements-legacy-build.lock)
#   MQ_AUDIT_REQUIRED     1: an unreachable service fails the run (the GitHub workflow); otherwise the
#                         audit is skipped, and says so (machines without access to the service)
#   MQ_AUDIT_ARGS         extra pip-audit arguments, e.g. "--ignore-vuln GHSA-xxxx" (with a reason in the commit)
#
# Exit status: 0 no finding in a gated lock (or skipped), 1 findings, 2 usage, 3 service unreachable
# with MQ_AUDIT_REQUIRED=1.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pip_audit="${PIP_AUDIT:-pip-audit}"
service="${MQ_AUDIT_SERVICE:-osv}"
report_only="${MQ_AUDIT_REPORT_ONLY-requirements-legacy.lock requirements-legacy-build.lock}"
case "${service}" in osv | pypi) ;; *) echo "audit: MQ_AUDIT_SERVICE=${service}: use osv or pypi" >&2; exit 2 ;; esac
# shellcheck disable=SC2086  # a command with its arguments, e.g. "python -m pip_audit"
command -v ${pip_audit%% *} >/dev/null 2>&1 || {
    echo "audit: '${pip_audit}' not found: pip install pip-audit (pinned in .github/workflows/audit-requirements.txt)" >&2
    exit 2
}

locks=("$@")
[ "${#locks[@]}" -gt 0 ] || locks=("${root}"/docker/requirements-*.lock)

failed=() kept=() clean=() unreachable=() unchecked=()
for lock in "${locks[@]}"; do
    [ -f "${lock}" ] || { echo "audit: ${lock}: no such lock file" >&2; exit 2; }
    name="$(basename "${lock}")"
    echo "=== audit ${name} (pip-audit, ${service})"
    # shellcheck disable=SC2086  # PIP_AUDIT and MQ_AUDIT_ARGS are word lists
    out="$(${pip_audit} -r "${lock}" --no-deps --disable-pip --progress-spinner off \
        --vulnerability-service "${service}" ${MQ_AUDIT_ARGS:-} 2>&1)"
    rc=$?
    if [ "${rc}" -ne 0 ] && grep -qE 'ConnectionError|NameResolutionError|Max retries exceeded|Failed to resolve|Temporary failure in name resolution' <<<"${out}"; then
        echo "audit: ${name}: $(grep -E 'Error' <<<"${out}" | tail -1)"  # the traceback's last line only
        unreachable+=("${name}")
        continue
    fi
    echo "${out}"
    # pip-audit exits 0 when it could look nothing up (e.g. the pypi service behind a mirror without the
    # JSON API): say how many pins went unchecked
    skipped="$(grep -c 'could not be audited' <<<"${out}")"
    [ "${skipped}" -eq 0 ] || unchecked+=("${name} (${skipped} of $(grep -cE '^[A-Za-z0-9]' "${lock}") pins)")
    if [ "${rc}" -eq 0 ]; then
        [ "${skipped}" -gt 0 ] || clean+=("${name}")
    elif [[ " ${report_only} " == *" ${name} "* ]]; then
        kept+=("${name}")
    else
        failed+=("${name}")
    fi
done

echo "=== audit summary (${service})"
[ "${#clean[@]}" -eq 0 ] || echo "no known vulnerability: ${clean[*]}"
[ "${#kept[@]}" -eq 0 ] || echo "findings kept on purpose (report only, see docs/install.md): ${kept[*]}"
[ "${#failed[@]}" -eq 0 ] || echo "FINDINGS: ${failed[*]}"
[ "${#unchecked[@]}" -eq 0 ] || echo "NOT AUDITED, unknown to the ${service} service: ${unchecked[*]}"
if [ "${#unreachable[@]}" -gt 0 ]; then
    echo "SKIPPED, the ${service} vulnerability service is not reachable from here: ${unreachable[*]}"
    [ "${MQ_AUDIT_REQUIRED:-0}" != 1 ] || exit 3
fi
[ "${#failed[@]}" -eq 0 ] || exit 1
exit 0
