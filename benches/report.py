"""Turns a pytest-benchmark JSON file into a Markdown table, grouped, with ratios.

    python benches/report.py docs/results/bench-XXXX.json > docs/results/bench-XXXX.md

Within each group the first (fastest) row is the baseline of the ratio column,
so side-by-side comparisons from one run read directly.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path


def fmt_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def render(path: Path) -> str:
    data = json.loads(path.read_text())
    groups: dict[str, list[dict[str, object]]] = defaultdict(list)
    for bench in data["benchmarks"]:
        groups[bench["group"] or bench["name"]].append(bench)
    machine = data.get("machine_info", {})
    lines = [
        f"Run {data.get('datetime', '?')} on {machine.get('cpu', {}).get('brand_raw', '?')} "
        f"({machine.get('cpu', {}).get('count', '?')} cores), Python {machine.get('python_version', '?')}.",
        "",
        "| group | benchmark | mean | ops/s | × fastest |",
        "|---|---|---:|---:|---:|",
    ]
    for group in sorted(groups):
        rows = sorted(groups[group], key=lambda b: b["stats"]["mean"])  # type: ignore[index]
        fastest = rows[0]["stats"]["mean"]  # type: ignore[index]
        for b in rows:
            mean = b["stats"]["mean"]  # type: ignore[index]
            lines.append(f"| {group} | {b['name']} | {fmt_time(mean)} | {1 / mean:,.0f} | {mean / fastest:.2f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python benches/report.py RESULT.json")
    sys.stdout.write(render(Path(sys.argv[1])))
