#!/usr/bin/env python
"""Write configs/experiments.mk (the Makefile's per-experiment variables) from the table
configs/experiments.yaml.

    python scripts/gen_experiments_mk.py            # rewrite the fragment
    python scripts/gen_experiments_mk.py --check    # exit 1 if the committed fragment is stale
"""
import argparse
import os
import sys

from model_quantization.detection.experiments import (
    DEFAULT_EXPERIMENTS,
    load_experiments,
    render_makefile,
    repo_root,
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--experiments", default=DEFAULT_EXPERIMENTS, help="experiment table")
    parser.add_argument("--output", default=os.path.join(repo_root(), "configs", "experiments.mk"),
                        help="fragment to write")
    parser.add_argument("--check", action="store_true",
                        help="do not write; fail if the fragment differs from the table")
    args = parser.parse_args(argv)
    text = render_makefile(load_experiments(args.experiments))
    if args.check:
        current = open(args.output).read() if os.path.isfile(args.output) else ""
        if current != text:
            print("{} is out of date with {}; run: python scripts/gen_experiments_mk.py".format(
                args.output, args.experiments), file=sys.stderr)
            return 1
        print("{} is up to date".format(args.output))
        return 0
    with open(args.output, "w") as f:
        f.write(text)
    print("wrote {}".format(args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
