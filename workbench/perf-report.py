#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Summarise make bench PERF=1's results in DIR (build/bench/perf).

stat-<design>.csv: perf stat -x, -e 'gmem_track:*' over the conversion
phases of one design; record-<design>.txt: perf report --stdio of the 4 KiB
conversion loop; falloc-<design>.txt: the same of the file's fallocate().
Writes DIR/perf.md (the event table and the top symbols) and prints it.
Usage: perf-report.py DIR
"""
import pathlib
import re
import sys

DESIGNS = ["upstream-4k", "structpage-2m", "structpage-1g", "tracked-2m",
           "tracked-1g"]
TOP = 12


def read_stat(path):
    """{event: count or None} from perf stat's CSV output."""
    counts = {}
    for line in path.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        f = line.split(",")
        if len(f) < 3:
            continue
        ev = f[2].removeprefix("gmem_track:")
        try:
            counts[ev] = int(float(f[0]))
        except ValueError:
            counts[ev] = None	# <not counted>, <not supported>
    return counts


def top_symbols(path):
    """The first TOP sample lines of a perf report --stdio (no children)."""
    rows = []
    for line in path.read_text().splitlines():
        m = re.match(r"\s+(\d+\.\d+)%\s+(\S+)\s+(\S+)\s+\[(.)\]\s+(\S+)", line)
        if m:
            rows.append((m.group(1), m.group(2), m.group(5)))
        if len(rows) == TOP:
            break
    return rows


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    d = pathlib.Path(sys.argv[1])
    stats = {n: read_stat(d / f"stat-{n}.csv") for n in DESIGNS
             if (d / f"stat-{n}.csv").exists()}
    if not stats:
        sys.exit(f"perf-report: no stat-*.csv in {d}")
    events = sorted({e for c in stats.values() for e in c})
    out = ["### perf stat -e 'gmem_track:*', conversion phases "
           "(convert4k + convert2m)", "",
           "| event | " + " | ".join(stats) + " |",
           "|---|" + "---:|" * len(stats)]
    for e in events:
        cells = []
        for n in stats:
            v = stats[n].get(e)
            cells.append("n/a" if v is None else str(v))
        out.append(f"| {e} | " + " | ".join(cells) + " |")
    for prefix, what in (("record", "4 KiB conversions"),
                         ("falloc", "fallocate() of the file")):
        for n in DESIGNS:
            p = d / f"{prefix}-{n}.txt"
            if not p.exists():
                continue
            rows = top_symbols(p)
            out += ["", f"### perf record, {n}, {what}: top symbols "
                    "(self, cpu-clock)", "", "| self | command | symbol |",
                    "|---:|---|---|"]
            out += [f"| {pct}% | {cmd} | {sym} |" for pct, cmd, sym in rows]
            if not rows:
                out.append("| | | no samples |")
    text = "\n".join(out) + "\n"
    (d / "perf.md").write_text(text)
    print(text, end="")


if __name__ == "__main__":
    main()
