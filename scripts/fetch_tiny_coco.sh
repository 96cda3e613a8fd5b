#!/usr/bin/env bash
# Build the tiny COCO smoke subset from the public COCO 2017 val files (for CI machines without a COCO copy).
#
# Usage: scripts/fetch_tiny_coco.sh OUT_DIR [IDS_FILE]
#   Downloads COCO's annotations_trainval2017.zip (241 MB) and the listed val2017 images into a work folder
#   next to OUT_DIR, then cuts OUT_DIR with scripts/make_tiny_coco.py (make tiny-coco), which checks every id.
#   IDS_FILE defaults to .github/workflows/tiny-coco-ids.txt ('#' lines are comments).
# With a COCO copy at hand, use `make tiny-coco DATA_DIR=... IDS=... TINY_COCO=...` instead.
set -euo pipefail

[ "$#" -ge 1 ] || { echo "usage: $0 OUT_DIR [IDS_FILE]" >&2; exit 2; }
out="$1"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ids_file="${2:-${root}/.github/workflows/tiny-coco-ids.txt}"
[ -f "${ids_file}" ] || { echo "fetch_tiny_coco: ${ids_file} not found" >&2; exit 2; }
coco_url="${COCO_URL:-http://images.cocodataset.org}"
work="${out%/}.src/coco"
mkdir -p "${work}/val2017" "${work}/annotations"

if [ ! -f "${work}/annotations/instances_val2017.json" ]; then
    curl -fsSL --retry 3 -o "${work}/annotations.zip" "${coco_url}/annotations/annotations_trainval2017.zip"
    unzip -q -o -j "${work}/annotations.zip" annotations/instances_val2017.json -d "${work}/annotations"
    rm -f "${work}/annotations.zip"
fi

ids="$(grep -v '^#' "${ids_file}" | tr '\n' ' ')"
for id in ${ids}; do
    name="$(printf '%012d.jpg' "${id}")"
    [ -f "${work}/val2017/${name}" ] || curl -fsSL --retry 3 -o "${work}/val2017/${name}" "${coco_url}/val2017/${name}"
done

# shellcheck disable=SC2086  # the ids are words on purpose
python3 "${root}/scripts/make_tiny_coco.py" --coco "${work}" --split val2017 --ids ${ids} --out "${out}" --overwrite
