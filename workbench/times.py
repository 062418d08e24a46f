#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn make check's stage times into times.json and a table.

Usage: times.py TIMES.tsv OUT.json TOTAL_SECONDS KERNEL

TIMES.tsv holds one "NAME<tab>SECONDS" line per stage, in the order the
stages ended (workbench/check.sh writes it). OUT.json gets the kernel
flavour, the date, the total wall time and the stages; the table goes to
stdout.
"""
import datetime
import json
import sys


def fmt(s):
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def main(argv):
    if len(argv) != 5:
        sys.stderr.write(__doc__)
        return 2
    tsv, out, total, kernel = argv[1], argv[2], int(argv[3]), argv[4]
    stages = []
    with open(tsv, encoding="utf-8") as f:
        for line in f:
            name, _, secs = line.rstrip("\n").rpartition("\t")
            if name:
                stages.append({"name": name, "seconds": int(secs)})
    doc = {
        "kernel": kernel,
        "date": datetime.datetime.now(datetime.timezone.utc)
                        .strftime("%Y-%m-%dT%H:%M:%SZ"),
        "total_seconds": total,
        "stages": stages,
    }
    with open(out, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    width = max([len(s["name"]) for s in stages] + [5])
    print(f"stage times ({kernel} kernel):")
    for s in stages:
        print(f"  {s['name']:<{width}}  {fmt(s['seconds']):>7}")
    print(f"  {'total':<{width}}  {fmt(total):>7}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
