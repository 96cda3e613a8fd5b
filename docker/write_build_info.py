"""Write the image's build record (/etc/mq-build-info.json) from the Docker build arguments.

Read at run time by ``model_quantization.runrecord.collect_environment`` (env ``MQ_BUILD_INFO``),
where git is not available, to put the image tag, flavour, project commit and submodule commits into
every run record.
Standard library only: it runs before anything else is known to work.
"""

import argparse
import datetime
import json
import os
import re
import sys

__all__ = ["build_info", "main"]

FLAVORS = ("legacy", "current", "cpu")
_COMMIT = re.compile(r"^[0-9a-f]{7,40}(-dirty)?$|^unknown$")


def _submodule(text):
    path, sep, commit = text.partition("=")
    if not sep or not path or not _COMMIT.match(commit):
        raise argparse.ArgumentTypeError(
            "--submodule expects PATH=COMMIT (COMMIT: 7-40 hex digits or 'unknown'), got %r" % text
        )
    return path, commit


def build_info(image_tag, flavor, project_commit, submodules, built_at=""):
    """Return the build record as a dict; ``built_at`` defaults to now (UTC, ISO 8601)."""
    if flavor not in FLAVORS:
        raise ValueError("flavor %r is not one of %s" % (flavor, "|".join(FLAVORS)))
    if not built_at:
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        built_at = now.isoformat().replace("+00:00", "Z")
    return {
        "image_tag": image_tag,
        "flavor": flavor,
        "project_commit": project_commit,
        "submodules": dict(submodules),
        "built_at": built_at,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="file to write, e.g. /etc/mq-build-info.json")
    parser.add_argument("--image-tag", required=True)
    parser.add_argument("--flavor", required=True, choices=FLAVORS)
    parser.add_argument("--project-commit", default="unknown")
    parser.add_argument("--submodule", action="append", default=[], type=_submodule,
                        metavar="PATH=COMMIT", help="repeat per submodule")
    parser.add_argument("--built-at", default="", help="ISO 8601 time; empty = now")
    args = parser.parse_args(argv)
    info = build_info(args.image_tag, args.flavor, args.project_commit, args.submodule,
                      args.built_at)
    directory = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(directory, exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w") as handle:
        json.dump(info, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, args.out)
    print("wrote %s: %s" % (args.out, json.dumps(info, sort_keys=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
