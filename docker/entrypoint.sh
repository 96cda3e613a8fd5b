#!/usr/bin/env bash
# Entry point of the image: check the fork wiring, then dispatch a verb.
#
#   train-det ARGS     python scripts/train_det.py ARGS            (detectron2-style: --config-file, KEY VALUE)
#   eval ARGS          python scripts/train_det.py --eval-only ARGS (prints the COCO AP table)
#   train-cls ARGS     python scripts/train_classifier.py ARGS
#   backbone-full ARGS python scripts/backbone_full.py ARGS
#   export ARGS        python scripts/export_detectron2.py ARGS
#   report ARGS        python scripts/report.py ARGS
#   smoke ARGS         python scripts/smoke.py ARGS
#   test ARGS          python -m pytest ARGS
#   check ARGS         python -m model_quantization.detection.check_install ARGS (forks import, build a model)
#   shell [ARGS]       bash [ARGS] (a wiring problem is reported but does not stop the shell)
#   help               this list
#   anything else      executed as given (e.g. `python scripts/train_det.py ...`, the Makefile's form)
#
# MQ_SKIP_WIRING_CHECK=1 skips the check (for debugging the image).
set -euo pipefail

mq_home="${MQ_HOME:-/opt/mq}"
cd "${mq_home}"

usage() {
    sed -n '2,16s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

check_wiring() {
    [ "${MQ_SKIP_WIRING_CHECK:-0}" = 1 ] && return 0
    if ! python -m model_quantization.compat.wire --detectron2 "${mq_home}/forks/detectron2" --check >&2; then
        echo "entrypoint: the fork's third_party.quantization is not wired to model_quantization; rebuild the image (make image)" >&2
        return 1
    fi
}

verb="${1:-help}"
[ "$#" -eq 0 ] || shift

case "${verb}" in
    help | -h | --help) usage; exit 0 ;;
    shell) check_wiring || true; exec bash "$@" ;;
esac

check_wiring || exit 3

case "${verb}" in
    train-det) exec python scripts/train_det.py "$@" ;;
    eval) exec python scripts/train_det.py --eval-only "$@" ;;
    train-cls) exec python scripts/train_classifier.py "$@" ;;
    backbone-full) exec python scripts/backbone_full.py "$@" ;;
    export) exec python scripts/export_detectron2.py "$@" ;;
    report) exec python scripts/report.py "$@" ;;
    smoke) exec python scripts/smoke.py "$@" ;;
    test) exec python -m pytest "$@" ;;
    check) exec python -m model_quantization.detection.check_install "$@" ;;
    *) exec "${verb}" "$@" ;;
esac
