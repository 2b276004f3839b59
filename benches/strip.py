"""Strips a pytest-benchmark JSON file to the summary that docs/results/ keeps.

    python benches/strip.py RAW.json SUMMARY.json

The summary keeps each benchmark's statistics (min, max, mean, median, stddev,
ops, rounds, ...), options and extra_info, and the run's machine_info,
commit_info and datetime: everything benches/report.py renders. It drops the
per-round samples (`stats.data`), which are nearly all of a raw file's size
(megabytes per run). `make bench` keeps the raw file in the git-ignored
bench-results/ and commits the summary. SUMMARY.json may be RAW.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

SAMPLES = "data"  # pytest-benchmark's key for the per-round timings in `stats`


def strip(run: dict[str, Any]) -> dict[str, Any]:
    """The run without per-round samples; everything else as it was."""
    return {
        **run,
        "benchmarks": [
            {**bench, "stats": {k: v for k, v in bench["stats"].items() if k != SAMPLES}} for bench in run["benchmarks"]
        ],
    }


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python benches/strip.py RAW.json SUMMARY.json")
    run = json.loads(Path(sys.argv[1]).read_text())
    Path(sys.argv[2]).write_text(json.dumps(strip(run), indent=2, ensure_ascii=False) + "\n")
