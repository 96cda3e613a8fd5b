#!/usr/bin/env python
"""Gather every evaluated detection run into a markdown dashboard and a PNG chart.

    python scripts/report.py --runs output --out output/report

Writes <out>/results.md (the reference table with a reproduced-AP column and the difference; rows
without a run say "not run") and <out>/results.png (AP by bit width per detector and backbone).
"""
import argparse
import sys

from model_quantization.detection.dashboard import write_report
from model_quantization.detection.experiments import DEFAULT_EXPERIMENTS, load_experiments
from model_quantization.errors import run_cli


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--runs", default="output", help="folder searched for eval_metrics.json")
    parser.add_argument("--out", default="output/report", help="folder for results.md/.png")
    parser.add_argument("--experiments", default=DEFAULT_EXPERIMENTS, help="experiment table")
    args = parser.parse_args(argv)
    md, png = write_report(args.runs, args.out, load_experiments(args.experiments))
    print(open(md).read())
    print("wrote {} and {}".format(md, png))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
