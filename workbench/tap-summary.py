#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Summarise the workbench's test results and decide pass or fail.

Reads one or more TAP streams (the results of each guest boot, the userspace
harness's output) and, optionally, the kernel console logs. Nested TAP (KTAP subtests,
indented four spaces) is counted leaf by leaf, so a kselftest-harness binary
with 30 cases counts 30. Prints a table per top-level test and ends with
exactly 'N passed, N failed[, N skipped]'.

The run fails (exit 1) when any test failed, when a stream's plan is not
met or its end marker is missing (a guest that died or hung), or when the
console shows a kernel report: an oops, BUG, WARNING, KASAN, UBSAN, lockdep
or kmemleak report, or any Call Trace. Each problem is printed with a reason.

With --expected-skips, every case that skipped must be named for this
kernel (--label) in that list: a skip nobody expected is lost coverage
and fails the run like a failure, naming the case. The list's entries
that matched no skip are printed, so that the list can be pruned.

Tests report figures with lines 'reliability: KEY N' (kselftest's
ksft_print_msg() puts '# ' in front). Each figure is summed over every
stream, except the ones in MAX_FIGURES, which are the same fact reported
once per variant; they are printed before the last line and, with
--reliability, written to a JSON file with the test counts.
"""

import argparse
import fnmatch
import json
import re
import sys

RESULT = re.compile(r'^(not ok|ok)\b\s*(\d+)?\s*(?:-\s*)?([^#]*?)\s*(?:#\s*(.*))?$')
PLAN = re.compile(r'^1\.\.(\d+)')
FIGURE = re.compile(r'^\s*#\s*reliability:\s*([a-z][a-z0-9_]*)\s+(-?\d+)\s*$')
MAX_FIGURES = {'walkers_audited'}
DONE = '# wb: done'

# Kernel reports that fail the run, with the name printed for each.
REPORTS = [
    (re.compile(r'\bBUG: KASAN\b|\bKASAN: '), 'KASAN report'),
    (re.compile(r'\bUBSAN: '), 'UBSAN report'),
    (re.compile(r'\bBUG: KFENCE\b'), 'KFENCE report'),
    (re.compile(r'possible circular locking dependency|inconsistent lock state|'
                r'possible recursive locking|suspicious RCU usage|'
                r'BUG: sleeping function called|lock held when returning'),
     'lockdep report'),
    (re.compile(r'unreferenced object 0x|new suspected memory leaks'), 'kmemleak report'),
    (re.compile(r'\bBUG: '), 'BUG'),
    (re.compile(r'\bOops\b'), 'Oops'),
    (re.compile(r'\bWARNING: '), 'WARNING'),
    (re.compile(r'Kernel panic'), 'kernel panic'),
    (re.compile(r'Call Trace:'), 'Call Trace'),
]


class Node:
    def __init__(self, ok, name, directive, depth):
        self.ok = ok
        self.name = name
        self.directive = directive or ''
        self.depth = depth
        self.children = []
        self.plan = None  # the nested plan its children announced

    @property
    def skipped(self):
        return self.directive.upper().startswith('SKIP')

    @property
    def todo(self):
        return self.directive.upper().startswith(('TODO', 'XFAIL'))

    def count(self):
        """Return (passed, failed, skipped) over the leaves under this node.

        Cases a nested plan announced that never reported count as failed
        (the program stopped early); a nested plan of 0 (a filter that
        matched no case) counts as a skip.
        """
        if self.plan == 0 and not self.children:
            return 0, 0, 1
        if not self.children:
            if self.skipped:
                return 0, 0, 1
            if self.ok or self.todo:
                return 1, 0, 0
            return 0, 1, 0
        p = f = s = 0
        for c in self.children:
            cp, cf, cs = c.count()
            p, f, s = p + cp, f + cf, s + cs
        if self.plan is not None and len(self.children) < self.plan:
            f += self.plan - len(self.children)
        elif not self.ok and not self.todo and f == 0:
            # The program failed although no case did (crash, bad exit code).
            f += 1
        return p, f, s

    def skipped_leaves(self, path):
        """Yield (path, reason) of every skipped leaf under this node."""
        path = f'{path}/{self.name}' if path else self.name
        if self.plan == 0 and not self.children:
            yield path, 'no case ran (nested plan 1..0)'
            return
        if not self.children:
            if self.skipped:
                yield path, self.directive[4:].strip()
            return
        for c in self.children:
            yield from c.skipped_leaves(path)


def read_expected_skips(path, kernel):
    """Return [(glob, reason)] of the expected skips that apply to kernel.

    Each line is 'KERNELS GLOB REASON...': KERNELS is a comma-separated
    list of kernel flavours (check, debug) or '*'; GLOB matches the full
    name of a case, the top-level test's name and the case's names below
    it joined by '/'. '#' starts a comment.
    """
    entries = []
    with open(path) as fh:
        for n, line in enumerate(fh, 1):
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            parts = line.split(None, 2)
            if len(parts) < 3:
                raise ValueError(f'{path}:{n}: want KERNELS GLOB REASON')
            kernels, glob, reason = parts
            if kernels == '*' or kernel in kernels.split(','):
                entries.append((glob, reason))
    return entries


def add_figure(figures, line):
    """Add the figure of a 'reliability: KEY N' line to figures."""
    m = FIGURE.match(line)
    if not m:
        return
    key, val = m.group(1), int(m.group(2))
    if key in MAX_FIGURES:
        figures[key] = max(figures.get(key, val), val)
    else:
        figures[key] = figures.get(key, 0) + val


def parse_tap(lines, figures=None):
    """Parse a TAP stream; return (top-level nodes, plan or None, done seen).

    Figures ('reliability: KEY N' lines) are added to figures if given.
    """
    pending = {}
    plans = {}
    plan = None
    done = False
    for raw in lines:
        line = raw.rstrip('\n').rstrip('\r').replace('\t', '    ')
        if figures is not None:
            add_figure(figures, line)
        stripped = line.lstrip(' ')
        depth = (len(line) - len(stripped)) // 4
        if depth == 0 and stripped.startswith(DONE):
            done = True
            continue
        m = PLAN.match(stripped)
        if m and depth == 0 and plan is None:
            plan = int(m.group(1))
            continue
        if m and depth > 0:
            plans[depth] = int(m.group(1))
            continue
        m = RESULT.match(stripped)
        if not m:
            continue
        node = Node(m.group(1) == 'ok', m.group(3).strip(), m.group(4), depth)
        deeper = [d for d in pending if d > depth]
        if depth + 1 in pending:
            node.children = pending[depth + 1]
        node.plan = plans.pop(depth + 1, None)
        for d in deeper:
            del pending[d]
        for d in [d for d in plans if d > depth + 1]:
            del plans[d]
        pending.setdefault(depth, []).append(node)
    return pending.get(0, []), plan, done


def scan_console(text):
    """Return a list of (kind, excerpt) for every kernel report in text."""
    found = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        for pat, kind in REPORTS:
            if pat.search(lines[i]):
                excerpt = '\n'.join(lines[max(0, i - 2):i + 30])
                found.append((kind, excerpt))
                i += 30  # one report, not one per line of its trace
                break
        else:
            i += 1
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--tap', action='append', default=[], metavar='NAME=FILE',
                    help='a TAP stream; NAME prefixes its tests')
    ap.add_argument('--guest', action='append', default=[], metavar='[NAME=]FILE',
                    help="a guest's TAP stream (must end with the done marker); "
                         "NAME prefixes its tests")
    ap.add_argument('--console', action='append', default=[], metavar='FILE',
                    help='kernel console log to scan')
    ap.add_argument('--summary', metavar='FILE', help='also write the table here')
    ap.add_argument('--reliability', metavar='FILE',
                    help='write the figures and test counts here as JSON')
    ap.add_argument('--label', default='',
                    help='what was run (e.g. the kernel flavour), for the JSON')
    ap.add_argument('--expected-skips', metavar='FILE',
                    help='the cases allowed to skip on the --label kernel')
    args = ap.parse_args()
    figures = {}
    skips = []

    rows = []
    problems = []
    streams = [(n, f, False) for n, f in (t.split('=', 1) for t in args.tap)]
    for g in args.guest:
        name, path = g.split('=', 1) if '=' in g else ('', g)
        streams.append((name, path, True))
    for prefix, path, is_guest in streams:
        try:
            with open(path, errors='replace') as fh:
                nodes, plan, done = parse_tap(fh, figures)
        except OSError as e:
            problems.append(f'{path}: cannot read: {e.strerror}')
            continue
        if plan is None:
            problems.append(f'{path}: no TAP plan: the run did not start')
        elif len(nodes) < plan:
            last = nodes[-1].name if nodes else '(none)'
            problems.append(f'{path}: {len(nodes)} of {plan} tests reported; '
                            f'the last was {last}: the run died or hung after it')
        if is_guest and not done:
            problems.append(f'{path}: no end marker: the guest did not finish its run')
        for n in nodes:
            name = f'{prefix}/{n.name}' if prefix else n.name
            rows.append((name, *n.count(), n.directive))
            skips += n.skipped_leaves(prefix)

    unexpected = []
    if args.expected_skips:
        try:
            expected = read_expected_skips(args.expected_skips, args.label)
        except (OSError, ValueError) as e:
            problems.append(f'expected skips: {e}')
            expected = []
        used = set()
        for name, reason in skips:
            hit = [g for g, _ in expected if fnmatch.fnmatchcase(name, g)]
            used.update(hit)
            if not hit:
                unexpected.append(f'{name}: {reason}' if reason else name)
        unused = [(g, r) for g, r in expected if g not in used]

    reports = []
    for console in args.console:
        try:
            with open(console, errors='replace') as fh:
                reports += scan_console(fh.read())
        except OSError as e:
            problems.append(f'{console}: cannot read: {e.strerror}')

    out = []
    width = max([len(r[0]) for r in rows] + [20])
    out.append(f'{"test":<{width}}  pass  fail  skip  note')
    for name, p, f, s, d in rows:
        mark = 'FAIL' if f else ''
        out.append(f'{name:<{width}}  {p:>4}  {f:>4}  {s:>4}  {mark} {d}'.rstrip())
    text = '\n'.join(out)
    print(text)
    if args.summary:
        with open(args.summary, 'w') as fh:
            fh.write(text + '\n')

    for kind, excerpt in reports:
        print(f'\nconsole: kernel {kind}:\n{excerpt}', file=sys.stderr)
    for p in problems:
        print(f'error: {p}', file=sys.stderr)
    failed_names = [r[0] for r in rows if r[2]]
    for n in failed_names:
        print(f'failed: {n}', file=sys.stderr)
    for n in unexpected:
        print(f'unexpected skip: {n}', file=sys.stderr)
    if args.expected_skips:
        for g, r in unused:
            print(f'expected skip that did not skip: {g} ({r})')

    passed = sum(r[1] for r in rows)
    failed = sum(r[2] for r in rows)
    skipped = sum(r[3] for r in rows)
    # Kernel reports and broken runs are failures too, counted once each.
    failed += len(reports) + len(problems) + len(unexpected)
    if figures:
        print('figures: ' + ', '.join(f'{k} {v}' for k, v in sorted(figures.items())))
    if args.reliability:
        with open(args.reliability, 'w') as fh:
            json.dump({'label': args.label, 'figures': figures,
                       'passed': passed, 'failed': failed, 'skipped': skipped,
                       'kernel_reports': len(reports)},
                      fh, indent=2, sort_keys=True)
            fh.write('\n')
    sys.stdout.flush()
    line = f'{passed} passed, {failed} failed'
    if skipped:
        line += f', {skipped} skipped'
    print(line)
    return 1 if failed or not rows else 0


if __name__ == '__main__':
    sys.exit(main())
