#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn gmem-bench's measurements into results.json, results.md and plots.

Usage: bench-report.py RAW.json OUTDIR [BOOTDIR]
       bench-report.py --any-measured RAW.json
       bench-report.py --merge-one-vcpu RAW.json RAW-1VCPU.json

RAW.json is what tools/gmem-bench printed in the guest (one boot, every
design). This adds, from those numbers only:

  ratios      each design's overhead and latencies divided by those of the
              struct-page design of the same page size and of upstream-4k;
  projection  host memory each design spends on metadata for 1 TiB and
              3 TiB of guest memory at 0 %, 1 % and 10 % shared, from the
              measured per-GiB figures (linear between measured fractions);

and writes OUTDIR/results.json, OUTDIR/results.md (also printed),
OUTDIR/overhead.svg and OUTDIR/latency.svg (gnuplot).

A design gmem-bench could not measure (its file could not be allocated,
say) has "measured": false and its "reason" in results.json, all its
figures null, and a "not measured" line with the reason in each table;
it is left out of the ratios and the plots. A plot with nothing to draw
is not made, with a note on stderr. The exit status is 0 when at least
one design was measured, 1 with one sentence on stderr when none was
(results.json and results.md are still written); --any-measured only
tells which, writing nothing, so that make bench can stop before its
boot comparison.

--merge-one-vcpu adds to RAW.json, under "one_vcpu", the conversion
figures (convert_ns, convert_counts_per_roundtrip) of each design from a
second run of the conversion loops in a guest with one vCPU, where a
kernel TLB flush sends no IPI; results.md then has them beside the
two-vCPU figures.

A size sweep (gmem-bench --sizes, make bench SIZES=...) holds one
{"size_bytes", "designs"} per size under "sizes". The tables and plots
above are then of the largest size at which a design was measured, and
results.json gains "scaling": per design and size, the metadata per GiB
at f = 0 and 1/64, the conversion medians, fallocate and pre-fault per
GiB and the descriptor's maple nodes and ranges at f = 0 and 1/64 (null,
with "measured": false and the reason, where the design was not
measured), and "runs", every size's figures as gmem-bench gave them; a
table of them in results.md, and OUTDIR/scaling.svg draws each against
the size, one line per design.

BOOTDIR holds workbench/bench-boot.sh's figures of five boots of the same
kernel (plain, HugeTLB 1G with and without HVO, two sizes of
gmem_track.reserve=); they become "boot" in results.json and the boot
table, with the vmemmap each kept for the reserved memory:

  kept        16 MiB per reserved GiB (what plain memory spends on struct
              pages) less the MemTotal the boot gained over the plain boot;
  per TiB     the gmem_track reservation's kept vmemmap per GiB, from the
              difference between its two sizes (what grows with the
              reservation), times 1024.
"""

import json
import math
import os
import subprocess
import sys

DESIGNS = ["upstream-4k", "structpage-2m", "structpage-1g", "tracked-2m",
           "tracked-1g"]
FRACTIONS = ["0", "0.001953", "0.015625", "0.125", "0.5", "1"]
CONVERSIONS = ["4k_to_shared", "4k_to_private", "2m_to_shared",
               "2m_to_private"]
LOOPS = ["4k", "2m", "4k_reuse", "64m"]
EVENTS = ["pages_allocated", "pages_freed", "pte_tables_copied",
          "pte_tables_freed", "tlb_flushes"]
RESERVE_EVENTS = ["reserve_pages", "reserve_misses"]
BULK = ["64m_to_shared", "64m_to_private"]
BULK_BYTES = 64 << 20
GIB = 1 << 30
TIB = 1 << 40
# Reference lines: a 4 KiB struct page per 4 KiB page (64 B / 4 KiB), and
# HugeTLB with HVO at 1 GiB (vmemmap_dedup.rst: 4 KiB of 16 MiB kept, plus
# the PTE pages of its split vmemmap PMDs: 8 x 4 KiB = 36 KiB per GiB).
ANCHOR_4K = GIB // 64
ANCHOR_HVO_1G = 36 * 1024


def num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def note(msg):
    print("bench-report: " + msg, file=sys.stderr)


def has_figures(d):
    """Any figure at all: what tells a measured design from an older
    gmem-bench's JSON, which had no "measured"."""
    if num(d.get("fallocate_ns_per_gib")):
        return True
    ov = d.get("overhead_bytes_per_gib") or {}
    conv = d.get("convert_ns") or {}
    return any(num(v) for v in ov.values()) or any(
        num((s or {}).get("median")) for s in conv.values())


def normalize(designs):
    """Give every design "measured" and "reason" (null when measured)."""
    for d in designs.values():
        m = d.get("measured")
        if not isinstance(m, bool):
            m = has_figures(d)
        d["measured"] = m
        if m:
            d["reason"] = None
        elif not d.get("reason"):
            d["reason"] = "no figures and no reason given"


def measured(designs, name):
    d = designs.get(name)
    return d is not None and d.get("measured") is True


def why_none(designs):
    """One sentence: no design was measured, and why."""
    if not designs:
        return "the results hold no design at all"
    why = {}
    for n, d in designs.items():
        why.setdefault(d.get("reason"), []).append(n)
    return "no design was measured (%s)" % "; ".join(
        "%s: %s" % (", ".join(ns), r) for r, ns in why.items())


def ratio(a, b):
    if not num(a) or not num(b) or b == 0:
        return None
    return round(a / b, 4)


def metrics(d):
    """The figures of one design that ratios are taken of."""
    m = {}
    ov = d.get("overhead_bytes_per_gib") or {}
    for f in FRACTIONS:
        m["overhead_" + f] = ov.get(f)
    for k in ("fallocate_ns_per_gib", "prefault_ns_per_gib"):
        m[k] = d.get(k)
    conv = d.get("convert_ns") or {}
    for c in CONVERSIONS + ["4k_reuse_to_shared", "4k_reuse_to_private"] \
            + BULK:
        m[c + "_median"] = (conv.get(c) or {}).get("median")
    return m


def overhead_at(d, frac):
    """Overhead per GiB at shared fraction @frac, linear between points."""
    ov = d.get("overhead_bytes_per_gib") or {}
    pts = sorted((float(f), v) for f, v in ov.items() if num(v))
    if not pts:
        return None
    for (f0, v0), (f1, v1) in zip(pts, pts[1:]):
        if f0 <= frac <= f1:
            return v0 + (v1 - v0) * (frac - f0) / (f1 - f0)
    return pts[0][1] if frac <= pts[0][0] else pts[-1][1]


# The realistic guest of the dense-host projection: its swiotlb shared as
# one contiguous range, one shared page per vCPU at 64 vCPUs per TiB, and
# scattered 4 KiB DMA buffers.
SWIOTLB_FRAC = 0.06
VCPUS_PER_TIB = 64
CHURN_FRAC = 0.001


def realistic(d, size):
    """Metadata of a @size guest shaped as above, from the measured
    overheads: fully private memory at f=0, the swiotlb at f=1's cost per
    GiB, the vCPU pages at what one scattered page cost at f=1/512 (512
    pages per GiB, almost all in granules of their own), the buffers at
    f=0.001 (between f=0 and f=1/512). None when a figure is missing."""
    ov = d.get("overhead_bytes_per_gib") or {}
    f0, f1, f512 = ov.get("0"), ov.get("1"), ov.get("0.001953")
    churn = overhead_at(d, CHURN_FRAC)
    if not all(num(v) for v in (f0, f1, f512, churn)):
        return None
    gib = size / GIB
    per_page = max(0.0, (f512 - f0) / 512)
    total = (gib * f0 + gib * SWIOTLB_FRAC * max(0.0, f1 - f0)
             + gib * max(0.0, churn - f0)
             + VCPUS_PER_TIB * size / TIB * per_page)
    return int(round(total))


def same_size_structpage(name):
    if name.endswith("-2m"):
        return "structpage-2m"
    if name.endswith("-1g"):
        return "structpage-1g"
    return None


def build(raw):
    res = dict(raw)
    designs = raw.get("designs", {})
    ratios = {}
    for name in DESIGNS:
        d = designs.get(name)
        if not measured(designs, name):
            continue
        mine = metrics(d)
        for ref in (same_size_structpage(name), "upstream-4k"):
            if not ref or ref == name or not measured(designs, ref):
                continue
            theirs = metrics(designs[ref])
            ratios[name + "_vs_" + ref] = {
                k: ratio(mine[k], theirs[k]) for k in mine}
    res["ratios"] = ratios

    proj = {}
    for name in DESIGNS:
        d = designs.get(name)
        if not measured(designs, name):
            continue
        p = {}
        for label, size in (("1TiB", TIB), ("3TiB", 3 * TIB)):
            p[label] = {}
            for frac in ("0", "0.01", "0.1"):
                per_gib = overhead_at(d, float(frac))
                p[label][frac] = (None if per_gib is None else
                                  int(round(per_gib * size / GIB)))
            p[label]["realistic"] = realistic(d, size)
        proj[name] = p
    res["projection"] = proj
    return res


def human(b):
    if not num(b):
        return "–"
    a = abs(b)
    for unit, div in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if a >= div:
            return "%.1f %s" % (b / div, unit)
    return "%d B" % b


def us(ns):
    return "–" if not num(ns) else "%.1f" % (ns / 1000.0)


def ms(ns):
    return "–" if not num(ns) else "%.0f" % (ns / 1e6)


def falloc_cell(d):
    """fallocate in ms per GiB, and the pages migrated meanwhile when the
    JSON has them (gmem-bench before fallocate_migrated_pages had not)."""
    mig = d.get("fallocate_migrated_pages")
    if not num(mig):
        return ms(d.get("fallocate_ns_per_gib"))
    return "%s (%d)" % (ms(d.get("fallocate_ns_per_gib")), mig)


def unmeasured_row(name, d, cells):
    """A table line for a design that was not measured: the reason, then
    a dash in each of the other @cells - 1 columns."""
    return "| %s | not measured: %s |%s" % (
        name, d.get("reason"), " – |" * (cells - 1))


def table(res):
    designs = res.get("designs", {})
    present = [n for n in DESIGNS if n in designs]
    out = []
    out.append("gmem-bench: kernel %s, guest_memfd of %s per design, one boot"
               % (res.get("kernel", "?"), human(res.get("size_bytes"))))
    if "scaling" in res:
        out[-1] += (" (the largest size of the sweep %s with a design "
                    "measured; every size in the last tables)" % ",".join(
                        gib_label(x) for x in res["scaling"]["sizes_bytes"]))
    out.append("")
    out.append("Metadata per GiB of guest memory (vmemmap + page tables + "
               "slab), by shared fraction:")
    out.append("")
    out.append("| design | " + " | ".join(
        "f=%s" % f for f in ("0", "1/512", "1/64", "1/8", "1/2", "1")) +
        " | round trip | MemFree check |")
    out.append("|---" * 9 + "|")
    for n in present:
        d = designs[n]
        if not d["measured"]:
            out.append(unmeasured_row(n, d, 8))
            continue
        ov = d.get("overhead_bytes_per_gib") or {}
        out.append("| %s | %s | %s | %s |" % (
            n, " | ".join(human(ov.get(f)) for f in FRACTIONS),
            human(d.get("overhead_after_roundtrip_bytes_per_gib")),
            human(d.get("memfree_crosscheck_error"))))
    out.append("")
    out.append("Of which the range descriptor (maple nodes, from sysfs "
               "descriptor_bytes + pfn_tree_bytes), per GiB:")
    out.append("")
    out.append("| design | " + " | ".join(
        "f=%s" % f for f in ("0", "1/512", "1/64", "1/8", "1/2", "1")) + " |")
    out.append("|---" * 7 + "|")
    for n in present:
        de = designs[n].get("descriptor_bytes_per_gib") or {}
        if not any(num(v) for v in de.values()):
            continue
        out.append("| %s | %s |" % (
            n, " | ".join(human(de.get(f)) for f in FRACTIONS)))
    out.append("")
    out.append("Latency, median (p99) in µs; fallocate (pages the kernel "
               "migrated meanwhile) and pre-fault in ms per GiB; stage-2 "
               "pages after pre-fault:")
    out.append("")
    out.append("| design | 4K→shared | 4K→private | 2M→shared | 2M→private "
               "| first fault | fallocate | pre-fault | 4K/2M/1G maps |")
    out.append("|---" * 10 + "|")
    for n in present:
        d = designs[n]
        if not d["measured"]:
            out.append(unmeasured_row(n, d, 9))
            continue
        conv = d.get("convert_ns") or {}
        cells = []
        for c in CONVERSIONS:
            s = conv.get(c) or {}
            cells.append("%s (%s)" % (us(s.get("median")), us(s.get("p99"))))
        ff = d.get("first_fault_ns") or {}
        s2 = d.get("stage2_pages") or {}
        out.append("| %s | %s | %s (%s) | %s | %s | %s |" % (
            n, " | ".join(cells), us(ff.get("median")), us(ff.get("p99")),
            falloc_cell(d),
            ms(d.get("prefault_ns_per_gib")),
            "/".join(str(s2.get(k, "–")) for k in ("4k", "2m", "1g"))))
    out.append("")
    out.append("Conversions that come back to 16 pages in turn (a guest "
               "reusing its DMA buffers), median (p99) in µs, and what the "
               "vmemmap changes of each loop cost per round trip, deferred "
               "depopulation included (sysfs vmemmap_events: pages "
               "allocated/freed, PTE tables copied/freed, kernel TLB "
               "flushes):")
    out.append("")
    out.append("| design | 4K reuse→shared | 4K reuse→private | "
               + " | ".join("%s loop" % k for k in LOOPS) + " |")
    out.append("|---" * (3 + len(LOOPS)) + "|")
    for n in present:
        d = designs[n]
        if not d["measured"]:
            out.append(unmeasured_row(n, d, 2 + len(LOOPS)))
            continue
        conv = d.get("convert_ns") or {}
        cnt = d.get("convert_counts_per_roundtrip") or {}
        cells = []
        for c in ("4k_reuse_to_shared", "4k_reuse_to_private"):
            s_ = conv.get(c) or {}
            cells.append("%s (%s)" % (us(s_.get("median")),
                                      us(s_.get("p99"))))
        for k in LOOPS:
            e = cnt.get(k) or {}
            vals = [e.get(f) for f in EVENTS]
            rsv = [e.get(f) for f in RESERVE_EVENTS]
            cell = ("–" if not all(num(v) for v in vals) else
                    "+%.2f/−%.2f, %.2f/%.2f, %.2f" % tuple(vals))
            if all(num(v) for v in vals + rsv) and vals[0]:
                cell += " [%.2f/%.2f]" % tuple(rsv)
            cells.append(cell)
        out.append("| %s | %s |" % (n, " | ".join(cells)))
    out.append("")
    out.append("In brackets, per round trip: pages taken from the vmemmap "
               "reserve as vmemmap pages or PTE tables / pages and PTE "
               "tables the conversions had to allocate themselves "
               "(vmemmap_events/reserve_pages, reserve_misses).")
    out.append("")
    out.append("Settling: after each loop's last conversion back to "
               "private, the most vmemmap that waited for deferred "
               "depopulation while the loop ran, the time until none "
               "waited, and the vmemmap left then above the fully private "
               "figure (tracked/deferred_bytes, <design>/vmemmap_bytes):")
    out.append("")
    out.append("| design | " + " | ".join("%s loop" % k for k in LOOPS)
               + " |")
    out.append("|---" * (1 + len(LOOPS)) + "|")
    for n in present:
        d = designs[n]
        if not d["measured"]:
            out.append(unmeasured_row(n, d, len(LOOPS)))
            continue
        st = d.get("convert_settle") or {}
        cells = []
        for k in LOOPS:
            e = st.get(k) or {}
            peak, ms_, res_ = (e.get("peak_deferred_bytes"),
                               e.get("settle_ms"),
                               e.get("vmemmap_residue_bytes"))
            if not e:
                cells.append("–")
                continue
            cells.append("%s, %s, %s" % (
                human(peak) if num(peak) else "–",
                "%d ms" % ms_ if num(ms_) else "not settled",
                human(res_) if num(res_) else "–"))
        out.append("| %s | %s |" % (n, " | ".join(cells)))
    out.append("")
    one = (res.get("one_vcpu") or {}).get("designs") or {}
    if one:
        out.append("Two vCPUs against one (a second boot, conversion loops "
                   "only): medians in µs, 2 vCPUs / 1 vCPU, and kernel TLB "
                   "flushes per round trip; with one vCPU a flush is local, "
                   "with two it waits for the other vCPU's turn on QEMU's "
                   "one TCG thread:")
        out.append("")
        keys = CONVERSIONS + ["64m_to_shared", "64m_to_private"]
        out.append("| design | " + " | ".join(
            k.replace("_to_", "→").replace("4k", "4K").replace(
                "2m", "2M").replace("64m", "64M") for k in keys)
            + " | flushes 4k/2m/64m loop |")
        out.append("|---" * (2 + len(keys)) + "|")
        for n in present:
            d, o = designs[n], one.get(n) or {}
            if not d["measured"] or not o.get("measured"):
                out.append(unmeasured_row(n, d if not d["measured"] else o,
                                          1 + len(keys)))
                continue
            c2, c1 = d.get("convert_ns") or {}, o.get("convert_ns") or {}
            cells = ["%s / %s" % (us((c2.get(k) or {}).get("median")),
                                  us((c1.get(k) or {}).get("median")))
                     for k in keys]
            f2 = d.get("convert_counts_per_roundtrip") or {}
            f1 = o.get("convert_counts_per_roundtrip") or {}

            def fl(cnt, k):
                v = (cnt.get(k) or {}).get("tlb_flushes")
                return "–" if not num(v) else "%.2f" % v
            cells.append(", ".join("%s/%s" % (fl(f2, k), fl(f1, k))
                                   for k in ("4k", "2m", "64m")))
            out.append("| %s | %s |" % (n, " | ".join(cells)))
        out.append("")
    out.append("Bulk conversions of random 64 MiB ranges (a confidential "
               "guest's swiotlb, converted at boot): GiB/s at the median "
               "time, and the median (p99) in µs:")
    out.append("")
    out.append("| design | 64M→shared GiB/s | 64M→private GiB/s "
               "| 64M→shared µs | 64M→private µs |")
    out.append("|---" * 5 + "|")
    for n in present:
        d = designs[n]
        if not d["measured"]:
            out.append(unmeasured_row(n, d, 4))
            continue
        conv = d.get("convert_ns") or {}
        rates, times = [], []
        for c in BULK:
            s_ = conv.get(c) or {}
            med = s_.get("median")
            rates.append("–" if not num(med) or not med else
                         "%.3g" % (BULK_BYTES / GIB / (med / 1e9)))
            times.append("%s (%s)" % (
                "–" if not num(med) else "%.0f" % (med / 1e3),
                "–" if not num(s_.get("p99")) else
                "%.0f" % (s_.get("p99") / 1e3)))
        out.append("| %s | %s | %s |" % (n, " | ".join(rates),
                                          " | ".join(times)))
    out.append("")
    out.append("Ratios (fully private overhead; conversion medians):")
    out.append("")
    out.append("| comparison | overhead f=0 | overhead f=1/64 | 4K→shared "
               "| 4K→private | 2M→shared | 2M→private | 4K reuse→shared "
               "| 4K reuse→private | 64M→shared | 64M→private "
               "| fallocate |")
    out.append("|---" * 12 + "|")
    if not res.get("ratios"):
        out.append("| no two measured designs to compare |" + " – |" * 11)
    for k, r in res.get("ratios", {}).items():
        def fmt(x):
            return "–" if x is None else "%.3g×" % x
        out.append("| %s | %s |" % (k, " | ".join(fmt(r.get(x)) for x in (
            "overhead_0", "overhead_0.015625", "4k_to_shared_median",
            "4k_to_private_median", "2m_to_shared_median",
            "2m_to_private_median", "4k_reuse_to_shared_median",
            "4k_reuse_to_private_median", "64m_to_shared_median",
            "64m_to_private_median", "fallocate_ns_per_gib"))))
    out.append("")
    out.append("Dense host: metadata for all guest memory, with 0, 1 or "
               "10 %% of it shared in scattered 4 KiB pages, or as a "
               "realistic guest (%g %% shared as one swiotlb range, one "
               "shared page per vCPU at %d vCPUs per TiB, %g %% in "
               "scattered 4 KiB DMA buffers):"
               % (100 * SWIOTLB_FRAC, VCPUS_PER_TIB, 100 * CHURN_FRAC))
    out.append("")
    out.append("| design | 1 TiB, 0 % | 1 TiB, 1 % | 1 TiB, 10 % "
               "| 1 TiB, realistic | 3 TiB, 0 % | 3 TiB, 1 % | 3 TiB, 10 % "
               "| 3 TiB, realistic |")
    out.append("|---" * 9 + "|")
    for n in present:
        if not designs[n]["measured"]:
            out.append(unmeasured_row(n, designs[n], 8))
            continue
        p = res["projection"].get(n, {})
        cells = [human((p.get(t) or {}).get(f))
                 for t in ("1TiB", "3TiB")
                 for f in ("0", "0.01", "0.1", "realistic")]
        out.append("| %s | %s |" % (n, " | ".join(cells)))
    return "\n".join(out) + "\n"


def gnuplot(outdir, name, lines):
    """Run one plot's script; a failure is a note, not the end of the
    report. True if the plot was made."""
    gp = os.path.join(outdir, name + ".gp")
    with open(gp, "w") as f:
        f.write("\n".join(lines) + "\n")
    try:
        r = subprocess.run(["gnuplot", gp], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True)
    except OSError as e:
        note("no %s.svg: cannot run gnuplot (%s)" % (name, e.strerror))
        return False
    if r.returncode != 0:
        err = [x for x in r.stderr.splitlines() if x.strip()]
        note("no %s.svg: gnuplot failed: %s" % (
            name, err[-1].strip() if err else "exit %d" % r.returncode))
        return False
    return True


def plot_overhead(designs, present, outdir):
    dat = os.path.join(outdir, "overhead.dat")
    drawn = []
    with open(dat, "w") as f:
        for n in present:
            ov = designs[n].get("overhead_bytes_per_gib") or {}
            pts = [(max(float(fr), 1.0 / 4096), max(ov.get(fr), 1))
                   for fr in FRACTIONS if num(ov.get(fr))]
            if not pts:
                continue
            # Log scale: f=0 is drawn at 1/4096, a zero figure at 1 B.
            f.write("# %s\n" % n)
            for x, y in pts:
                f.write("%g %g\n" % (x, y))
            f.write("\n\n")
            drawn.append(n)
        # Whole 2 MiB ranges shared instead of scattered 4 KiB pages.
        ranged = []
        for n in present:
            r = designs[n].get("overhead_2m_ranges_bytes_per_gib") or {}
            for fr, v in r.items():
                if num(v) and n.startswith("tracked"):
                    f.write("%g %g\n" % (float(fr), max(v, 1)))
                    ranged.append(n)
        f.write("\n\n")
    if not drawn:
        note("no overhead.svg: no design has a metadata figure")
        return
    gnuplot(outdir, "overhead", [
        "set terminal svg size 900,560 dynamic font 'sans,11'",
        "set termoption noenhanced",
        "set output '%s'" % os.path.join(outdir, "overhead.svg"),
        "set title 'guest_memfd metadata per GiB against shared fraction'",
        "set xlabel 'shared fraction: random 4 KiB pages "
        "(f = 0 drawn at 1/4096, 0 B at 1 B)'",
        "set ylabel 'bytes per GiB (SI prefixes)'",
        "set logscale xy", "set xrange [1.0/8192:2]", "set grid",
        "set key outside right",
        "set format y '%.0s %cB'",
        "plot " + ", ".join(
            ["'%s' index %d with linespoints lw 2 title '%s'" % (dat, i, n)
             for i, n in enumerate(drawn)] +
            (["'%s' index %d with points pt 7 ps 1.5 lc rgb 'black' "
              "title 'tracked, whole 2 MiB ranges'" % (dat, len(drawn))]
             if ranged else []) +
            ["%d with lines dt 2 lc rgb 'gray30' title '4K struct pages'"
             % ANCHOR_4K,
             "%d with lines dt 3 lc rgb 'gray50' title 'HugeTLB 1G + HVO'"
             % ANCHOR_HVO_1G])])


def plot_latency(designs, present, outdir):
    rows = []
    for n in present:
        conv = designs[n].get("convert_ns") or {}
        vals = [(conv.get(c) or {}).get("median") for c in CONVERSIONS]
        if any(num(v) for v in vals):
            rows.append((n, vals))
    cols = [i for i in range(len(CONVERSIONS))
            if any(num(v[i]) for _, v in rows)]
    if not rows or not cols:
        note("no latency.svg: no design has a conversion figure")
        return
    lat = os.path.join(outdir, "latency.dat")
    with open(lat, "w") as f:
        for n, vals in rows:
            f.write("%s %s\n" % (n, " ".join(
                "%g" % max(v / 1000.0, 0.001) if num(v) else "NaN"
                for v in vals)))
    gnuplot(outdir, "latency", [
        "set terminal svg size 900,560 dynamic font 'sans,11'",
        "set termoption noenhanced",
        "set output '%s'" % os.path.join(outdir, "latency.svg"),
        "set logscale y", "set format y '%g'",
        "set title 'conversion latency (median)'",
        "set ylabel 'µs'", "set grid",
        "set style data histograms", "set style histogram clustered",
        "set style fill solid 0.8 border -1", "set boxwidth 0.9",
        "set xtics rotate by -20",
        "plot " + ", ".join(
            "'%s' using %d:xtic(1) title '%s'" % (lat, i + 2, CONVERSIONS[i])
            for i in cols)])


def plots(res, outdir):
    designs = res.get("designs", {})
    present = [n for n in DESIGNS if measured(designs, n)]
    plot_overhead(designs, present, outdir)
    plot_latency(designs, present, outdir)


# The figures of the size sweep: key, label in the table and the plot,
# how to get it from a design, the plot's unit (divisor, name) and the
# floor a figure is drawn at on the plot's log scale.
def _conv(c):
    return lambda d: ((d.get("convert_ns") or {}).get(c) or {}).get("median")


def _sub(key, sub):
    return lambda d: (d.get(key) or {}).get(sub)


SCALING = [
    ("overhead_0", "metadata/GiB f=0", _sub("overhead_bytes_per_gib", "0"),
     1, "bytes per GiB", 1),
    ("overhead_1/64", "metadata/GiB f=1/64",
     _sub("overhead_bytes_per_gib", "0.015625"), 1, "bytes per GiB", 1),
    ("4k_to_shared_median", "4K→shared", _conv("4k_to_shared"), 1000, "µs",
     0.001),
    ("4k_to_private_median", "4K→private", _conv("4k_to_private"), 1000,
     "µs", 0.001),
    ("2m_to_shared_median", "2M→shared", _conv("2m_to_shared"), 1000, "µs",
     0.001),
    ("2m_to_private_median", "2M→private", _conv("2m_to_private"), 1000,
     "µs", 0.001),
    ("fallocate_ns_per_gib", "fallocate/GiB",
     lambda d: d.get("fallocate_ns_per_gib"), 1e6, "ms per GiB", 0.001),
    ("prefault_ns_per_gib", "pre-fault/GiB",
     lambda d: d.get("prefault_ns_per_gib"), 1e6, "ms per GiB", 0.001),
    ("descriptor_nodes_0", "descriptor nodes f=0",
     _sub("descriptor_nodes", "0"), 1, "maple nodes", 0.5),
    ("descriptor_nodes_1/64", "descriptor nodes f=1/64",
     _sub("descriptor_nodes", "0.015625"), 1, "maple nodes", 0.5),
    ("descriptor_ranges_0", "descriptor ranges f=0",
     _sub("descriptor_ranges", "0"), 1, None, None),
    ("descriptor_ranges_1/64", "descriptor ranges f=1/64",
     _sub("descriptor_ranges", "0.015625"), 1, None, None),
]


def gib_label(size):
    if size % GIB:
        return "%dM" % (size >> 20)
    return "%dG" % (size >> 30)


def scaling(runs, main_size):
    """results.json's "scaling": per design, one row per size."""
    per = {}
    for run in runs:
        for name in DESIGNS:
            d = run["designs"].get(name)
            if d is None:
                continue
            row = {"size_bytes": run["size_bytes"],
                   "measured": d["measured"], "reason": d["reason"]}
            for key, _, get, _, _, _ in SCALING:
                v = get(d) if d["measured"] else None
                row[key] = v if num(v) else None
            per.setdefault(name, []).append(row)
    return {"sizes_bytes": [r["size_bytes"] for r in runs],
            "main_size_bytes": main_size, "designs": per, "runs": runs}


def scaling_table(sc):
    cols = ["metadata/GiB f=0", "f=1/64", "4K→shared", "4K→private",
            "2M→shared", "2M→private", "fallocate", "pre-fault",
            "nodes f=0", "nodes f=1/64", "ranges f=1/64"]
    out = ["", "Scaling: every design at each size of the sweep, one boot "
           "(medians in µs; fallocate and pre-fault in ms per GiB; "
           "descriptor maple nodes and ranges of the whole file):", "",
           "| design | size | " + " | ".join(cols) + " |",
           "|---" * (len(cols) + 2) + "|"]

    def cnt(v):
        return "–" if not num(v) else "%d" % v

    for name in DESIGNS:
        for r in sc["designs"].get(name, []):
            size = gib_label(r["size_bytes"])
            if not r["measured"]:
                out.append(unmeasured_row("%s | %s" % (name, size), r,
                                          len(cols)))
                continue
            out.append("| %s | %s | %s |" % (name, size, " | ".join([
                human(r["overhead_0"]), human(r["overhead_1/64"]),
                us(r["4k_to_shared_median"]), us(r["4k_to_private_median"]),
                us(r["2m_to_shared_median"]), us(r["2m_to_private_median"]),
                ms(r["fallocate_ns_per_gib"]), ms(r["prefault_ns_per_gib"]),
                cnt(r["descriptor_nodes_0"]), cnt(r["descriptor_nodes_1/64"]),
                cnt(r["descriptor_ranges_1/64"])])))
    return "\n".join(out) + "\n"


def plot_scaling(sc, outdir):
    sizes = sorted(sc["sizes_bytes"])
    lo, hi = sizes[0] / GIB / 1.5, sizes[-1] / GIB * 1.5
    dat = os.path.join(outdir, "scaling.dat")
    panels = []
    index = 0
    with open(dat, "w") as f:
        for key, label, _, div, unit, floor in SCALING:
            if unit is None:
                continue
            series = []
            for i, name in enumerate(DESIGNS):
                pts = [(r["size_bytes"] / GIB, max(r[key] / div, floor))
                       for r in sc["designs"].get(name, [])
                       if num(r[key])]
                if not pts:
                    continue
                f.write("# %s %s\n" % (key, name))
                for x, y in pts:
                    f.write("%g %g\n" % (x, y))
                f.write("\n\n")
                series.append((index, i, name))
                index += 1
            panels.append((label, unit, floor, series))
    if not any(series for _, _, _, series in panels):
        note("no scaling.svg: no design was measured at any size")
        return
    rows = (len(panels) + 2) // 3
    lines = ["set terminal svg size 1260,%d dynamic font 'sans,10'"
             % (330 * rows),
             "set termoption noenhanced",
             "set output '%s'" % os.path.join(outdir, "scaling.svg"),
             "set multiplot layout %d,3 title 'gmem-bench: each figure "
             "against the guest_memfd size, one line per design "
             "(log scales; a 0 is drawn at the bottom of its panel)'" % rows,
             "set logscale xy", "set grid",
             "set xrange [%g:%g]" % (lo, hi),
             "set xtics (%s)" % ", ".join('"%s" %g' % (gib_label(sz), sz / GIB)
                                          for sz in sizes),
             "set xlabel 'size'", "set key top left font ',8'"]
    for label, unit, floor, series in panels:
        lines += ["set title '%s'" % label, "set ylabel '%s'" % unit,
                  "set format y '%.0s %c'" if unit.startswith("bytes")
                  else "set format y '%g'"]
        if not series:
            lines += ["set yrange [1:10]",
                      "set label 1 'not measured' at graph 0.5, 0.5 center",
                      "plot 1/0 notitle", "unset label 1",
                      "set autoscale y"]
            continue
        lines.append("plot " + ", ".join(
            "'%s' index %d with linespoints lw 2 pt 7 lc %d title '%s'"
            % (dat, idx, i + 1, name) for idx, i, name in series))
    lines.append("unset multiplot")
    gnuplot(outdir, "scaling", lines)


BOOTS = ["plain", "hugetlb", "hugetlb-hvo", "gmem_track", "gmem_track-2x"]


def boot_results(bootdir):
    """The boot comparison from bench-boot.sh's JSON files, or None."""
    boots = {}
    for name in BOOTS:
        path = os.path.join(bootdir, name + ".json")
        if not os.path.exists(path):
            return None
        with open(path) as f:
            boots[name] = json.load(f)
    plain = boots["plain"]
    size_gib = boots["gmem_track"]["reserved_1g_bytes"] / GIB
    if not size_gib:
        return None
    for name, b in boots.items():
        # What each boot really reserved, not what it asked for.
        if name.startswith("gmem_track"):
            gib = b["reserved_1g_bytes"] / GIB
        else:
            gib = b["hugepages_1g"]
        b["reserved_gib"] = gib
        b["mem_total_gain_kb"] = b["mem_total_kb"] - plain["mem_total_kb"]
        # The struct pages plain memory has: 16 MiB per GiB.
        b["vmemmap_kept_kb"] = gib * (ANCHOR_4K >> 10) - b["mem_total_gain_kb"] \
            if gib else 0
    g1, g2 = boots["gmem_track"], boots["gmem_track-2x"]
    per_gib = (g2["vmemmap_kept_kb"] - g1["vmemmap_kept_kb"]) / \
        (g2["reserved_gib"] - g1["reserved_gib"])
    hvo = boots["hugetlb-hvo"]
    return {
        "reserved_gib": size_gib,
        "boots": boots,
        "gmem_track_kept_kb_per_gib": per_gib,
        "gmem_track_kept_kb_per_tib": per_gib * 1024,
        "gmem_track_fixed_kb": g1["vmemmap_kept_kb"] - per_gib * size_gib,
        "hvo_kept_kb_per_gib": hvo["vmemmap_kept_kb"] / hvo["reserved_gib"],
        "gmem_track_over_hvo_mem_total_kb":
            g1["mem_total_kb"] - hvo["mem_total_kb"],
    }


def boot_table(boot):
    out = ["", "Boot: the same kernel and memory booted five ways "
           "(HugeTLB and gmem_track reserve %g GiB of 1G pages; "
           "gmem_track-2x twice that):" % boot["reserved_gib"], "",
           "| boot | MemTotal | MemFree | nr_memmap_boot_pages "
           "| nr_memmap_pages | MemTotal gain | vmemmap kept for the "
           "reserved memory |",
           "|---" * 7 + "|"]
    for name in BOOTS:
        b = boot["boots"][name]
        out.append("| %s | %d kB | %d kB | %d | %d | %+d kB | %s |" % (
            name, b["mem_total_kb"], b["mem_free_kb"],
            b["nr_memmap_boot_pages"], b["nr_memmap_pages"],
            b["mem_total_gain_kb"],
            "%d kB" % b["vmemmap_kept_kb"] if b["reserved_gib"] else "–"))
    out.append("")
    out.append("gmem_track keeps %.1f kB of vmemmap per reserved GiB "
               "(%.1f kB per TiB; goal at most 64 kB per TiB: %s) plus "
               "%.1f kB whatever the size (a sentinel and its PTE table per "
               "node and zone); HugeTLB with HVO keeps %.1f kB per GiB at "
               "this size, its shared tail page included. "
               "MemTotal with the reservation is %+d kB over HugeTLB with "
               "HVO." % (
                   boot["gmem_track_kept_kb_per_gib"],
                   boot["gmem_track_kept_kb_per_tib"],
                   "met" if boot["gmem_track_kept_kb_per_tib"] <= 64
                   else "missed",
                   boot["gmem_track_fixed_kb"], boot["hvo_kept_kb_per_gib"],
                   boot["gmem_track_over_hvo_mem_total_kb"]))
    return "\n".join(out) + "\n"


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        sys.exit("bench-report: cannot read %s: %s" % (path, e))


def runs_of(raw):
    """The runs of a sweep, sizes increasing, or None for one size; each
    run's designs normalized."""
    if "sizes" not in raw:
        raw.setdefault("designs", {})
        normalize(raw["designs"])
        return None
    runs = []
    for r in raw.get("sizes") or []:
        if not num(r.get("size_bytes")):
            continue
        r.setdefault("designs", {})
        normalize(r["designs"])
        runs.append(r)
    return sorted(runs, key=lambda r: r["size_bytes"])


def pick_main(raw, runs):
    """The size the tables and plots are of: the largest with a design
    measured (else the largest); None for no size at all."""
    if not runs:
        return None
    done = [r for r in runs
            if any(d["measured"] for d in r["designs"].values())]
    m = (done or runs)[-1]
    return {"kernel": raw.get("kernel", "?"), "size_bytes": m["size_bytes"],
            "designs": m["designs"]}


def why_none_sweep(runs):
    why = {}
    for r in runs:
        for n, d in r["designs"].items():
            why.setdefault(d.get("reason"), []).append(
                "%s %s" % (n, gib_label(r["size_bytes"])))
    if not why:
        return "the results hold no design at all"
    return "no design was measured at any size (%s)" % "; ".join(
        "%s: %s" % (", ".join(ns), r) for r, ns in why.items())


def merge_one_vcpu(path, path1):
    """Put the one-vCPU run's conversion figures into RAW.json."""
    raw = load(path)
    one = load(path1)
    raw["one_vcpu"] = {"designs": {
        n: {"measured": d.get("measured", False),
            "reason": d.get("reason"),
            "convert_ns": d.get("convert_ns"),
            "convert_counts_per_roundtrip":
                d.get("convert_counts_per_roundtrip")}
        for n, d in (one.get("designs") or {}).items()}}
    with open(path, "w") as f:
        json.dump(raw, f, indent=2)
        f.write("\n")


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--merge-one-vcpu":
        merge_one_vcpu(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) == 3 and sys.argv[1] == "--any-measured":
        raw = load(sys.argv[2])
        runs = runs_of(raw)
        if runs is None:
            runs = [raw]
        if not any(d["measured"] for r in runs
                   for d in r["designs"].values()):
            sys.exit("bench-report: " + (why_none(raw["designs"])
                                         if "sizes" not in raw
                                         else why_none_sweep(runs)) + ".")
        return
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    raw = load(sys.argv[1])
    runs = runs_of(raw)
    if runs is not None:
        main_run = pick_main(raw, runs)
        if main_run is None:
            sys.exit("bench-report: the sweep in %s holds no size"
                     % sys.argv[1])
        raw = main_run
    outdir = os.path.abspath(sys.argv[2])
    os.makedirs(outdir, exist_ok=True)
    res = build(raw)
    if runs is not None:
        res["scaling"] = scaling(runs, raw["size_bytes"])
    if len(sys.argv) == 4:
        try:
            boot = boot_results(sys.argv[3])
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            boot = None
        if boot is None:
            sys.exit("bench-report: incomplete boot figures in " + sys.argv[3])
        res["boot"] = boot
    designs = res["designs"]
    missing = [n for n in DESIGNS if n not in designs]
    if missing:
        note("no figures for %s (not run)" % ", ".join(missing))
    if any(d["measured"] for d in designs.values()):
        for n, d in designs.items():
            if not d["measured"]:
                note("%s not measured: %s" % (n, d["reason"]))
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump(res, f, indent=1, sort_keys=False)
        f.write("\n")
    md = table(res)
    if "scaling" in res:
        md += scaling_table(res["scaling"])
    if "boot" in res:
        md += boot_table(res["boot"])
    with open(os.path.join(outdir, "results.md"), "w") as f:
        f.write(md)
    if runs is not None:
        if not any(d["measured"] for r in runs
                   for d in r["designs"].values()):
            sys.exit("bench-report: " + why_none_sweep(runs) +
                     "; results.json and results.md say so, no plot was "
                     "made.")
    elif not any(d["measured"] for d in designs.values()):
        sys.exit("bench-report: " + why_none(designs) +
                 "; results.json and results.md say so, no plot was made.")
    plots(res, outdir)
    if "scaling" in res:
        plot_scaling(res["scaling"], outdir)
    sys.stdout.write(md)


if __name__ == "__main__":
    main()
