#!/usr/bin/env bash
# Entry point of the image: check the fork wiring, then dispatch a verb.
#
#   VERB ARGS          a verb of the recipe's table (model_quantization/recipe.py, VERBS; `help` lists
#                      them): train-det, eval, train-cls, backbone-full, export, recipe, report, smoke,
#                      test, check
#   shell [ARGS]       bash [ARGS] (a wiring problem is reported but does not stop the shell)
#   help               this list
#   anything else      executed as given (e.g. `python scripts/train_det.py ...`, the Makefile's form)
#
# MQ_SKIP_WIRING_CHECK=1 skips the check (for debugging the image).
set -euo pipefail

mq_home="${MQ_HOME:-/opt/mq}"
cd "${mq_home}"

usage() {
    sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
    echo "verbs:"
    python -m model_quantization.recipe verbs
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

# a verb of the table runs its command; anything else runs as given
if command_words="$(python -m model_quantization.recipe verbs --command "${verb}")"; then
    mapfile -t command <<<"${command_words}"
    exec "${command[@]}" "$@"
fi
exec "${verb}" "$@"
