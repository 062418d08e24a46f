#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Show the progress of the workbench's long stages, from files only.

Usage:
  progress.py [OPTIONS] build OBJDIR [--label L] [--prefix P]
  progress.py [OPTIONS] guest [--label L] [--prefix P] [--list TESTS.list]...
                    [--scale N] --lane NAME CONSOLE TAP
                    [--then NAME CONSOLE TAP]... [--lane ...]
  progress.py [OPTIONS] bench CONSOLE [--timeout SECONDS] [--label L]
  progress.py count OBJDIR
OPTIONS: --mode tty|plain|off, --parent PID, --since EPOCH-SECONDS

build: the kernel objects (*.o) written since it started, against the
number OBJDIR/.wb-objects holds (kbuild.sh writes it, with 'count', at the
end of a successful build), the percentage, the elapsed time and, once 5%
are done, an estimate of the time left.

guest: for each guest (--lane; --then names the boot that follows in the
same lane), the test running now ("wb: running NAME" on its console) and
its elapsed time against its time limit (the lists' timeout column times
--scale, the guest's wb.tmo_scale), and the results so far (its TAP file).

bench: passes gmem-bench's progress lines on, with the time since the
last one and the guest's elapsed time against --timeout (WB_TIMEOUT).

Output goes to stdout. On a terminal it is one line redrawn in place;
otherwise (a pipe, CI) plain lines: for a build one a minute, for a guest
one per test as it finishes, one every 5 minutes while a test runs and,
at the end, the test that was running. --mode or WB_PROGRESS (tty, plain,
off) overrides the choice. --prefix is what the caller left on the
current line: on a terminal it is put back, in plain mode the first line
goes below it and it is printed again at the end, so that the caller's
elapsed time completes it.

It runs until SIGTERM, SIGINT or SIGHUP, or until its parent process
(--parent, the caller's $$) goes away, reads the files a last time and
exits. Files older than --since (by default 2 s before it started) are an
earlier run's: they are read once they have been written anew.
"""

import argparse
import os
import re
import shutil
import signal
import sys
import time

OBJ_COUNT_FILE = '.wb-objects'
BUILD_EVERY = 60        # plain mode: one build line a minute
HEARTBEAT = 300         # plain mode: a line for a test running this long
ETA_FROM = 0.05         # the estimate needs this fraction done

RUNNING = re.compile(r'\bwb: running (\S+)')
EXITED = re.compile(r'\bwb: (\S+) exit (-?\d+)')
RESULT = re.compile(r'^(not ok|ok)\s+(\d+)\s+(?:-\s*)?([^#]*?)\s*(?:#\s*(.*))?$')
PLAN = re.compile(r'^1\.\.(\d+)')
DONE = '# wb: done'


def fmt(s):
    s = max(0, int(s))
    return f'{s // 60}m{s % 60:02d}s' if s >= 60 else f'{s}s'


def fmt_limit(s):
    """A time limit: 20m, 4m30s, 90s."""
    s = int(s)
    return f'{s // 60}m' if s >= 60 and s % 60 == 0 else fmt(s)


def fmt_left(s):
    if s < 60:
        return 'under a minute left'
    return f'about {int((s + 59) // 60)} min left'


class Out:
    """A live line on a terminal, plain lines otherwise."""

    def __init__(self, stream, tty, prefix=''):
        self.f = stream
        self.tty = tty
        self.prefix = prefix
        self.status_text = None
        self.printed = False

    def _w(self, s):
        self.f.write(s)
        self.f.flush()

    def width(self):
        return max(20, shutil.get_terminal_size((80, 24)).columns)

    def status(self, text):
        """Redraw the live line (terminal only)."""
        if not self.tty:
            return
        text = text[:self.width() - 1]
        if text != self.status_text:
            self.status_text = text
            self._w('\r\033[K' + text)

    def line(self, text):
        """A line that stays (above the live line on a terminal)."""
        if self.tty:
            self._w('\r\033[K' + text + '\n')
            if self.status_text is not None:
                self._w(self.status_text)
        else:
            self._w(('\n' if self.prefix and not self.printed else '') + text + '\n')
        self.printed = True

    def close(self):
        """Leave the line as the caller left it."""
        if self.tty:
            if self.status_text is not None:
                self._w('\r\033[K' + self.prefix)
        elif self.printed and self.prefix:
            self._w(self.prefix)


def count_objects(obj, since=None):
    """The *.o files under obj (not under dot directories, no symlinks),
    only those modified at or after since if given."""
    n = 0
    stack = [obj]
    while stack:
        d = stack.pop()
        try:
            it = os.scandir(d)
        except OSError:
            continue
        with it:
            for e in it:
                if e.name.startswith('.'):
                    continue
                try:
                    if e.is_dir(follow_symlinks=False):
                        stack.append(e.path)
                    elif e.name.endswith('.o') and e.is_file(follow_symlinks=False):
                        if since is None or e.stat(follow_symlinks=False).st_mtime >= since:
                            n += 1
                except OSError:
                    pass
    return n


def read_total(obj):
    try:
        with open(os.path.join(obj, OBJ_COUNT_FILE), encoding='ascii') as f:
            n = int(f.read().split()[0])
        return n if n > 0 else None
    except (OSError, ValueError, IndexError):
        return None


class Build:
    """Objects compiled so far against the previous build's total."""

    def __init__(self, out, label, total, count, clock):
        self.out = out
        self.label = label
        self.total = total
        self.count = count
        self.clock = clock
        self.t0 = clock()
        self.last = self.t0
        self.counted = self.t0 - 2
        self.n = 0

    def text(self, n, el):
        t = self.total
        if t is None:
            return f'{n} objects, {fmt(el)}'
        if n > t:
            return f'{n} objects (the last build had {t}), {fmt(el)}'
        s = f'{n}/{t} objects ({n * 100 // t}%), {fmt(el)}'
        if t * ETA_FROM <= n < t:
            s += ', ' + fmt_left(el * (t - n) / n)
        return s

    def tick(self, final=False):
        now = self.clock()
        el = now - self.t0
        if self.out.tty:
            # The tree is walked every other second, the clock redrawn
            # every second.
            if now - self.counted >= 2:
                self.counted = now
                self.n = self.count()
            self.out.status(f'{self.label}: {self.text(self.n, el)}')
        elif not final and now - self.last >= BUILD_EVERY:
            self.last = now
            self.n = self.count()
            self.out.line(f'  {self.label}: {self.text(self.n, el)}')

    def interval(self):
        return 1 if self.out.tty else 5


class Tail:
    """Complete lines added to a file since the last read. A file older
    than since is one left by an earlier run: it is waited for anew."""

    def __init__(self, path, since):
        self.path = path
        self.since = since
        self.f = None
        self.ino = None
        self.buf = b''

    def started(self):
        return self.f is not None

    def lines(self):
        try:
            st = os.stat(self.path)
        except OSError:
            return []
        if self.f is not None and (st.st_ino != self.ino or st.st_size < self.f.tell()):
            self.f.close()          # replaced or truncated: a new boot
            self.f = None
        if self.f is None:
            if st.st_mtime < self.since:
                return []
            try:
                self.f = open(self.path, 'rb')
            except OSError:
                return []
            self.ino = os.fstat(self.f.fileno()).st_ino
            self.buf = b''
        data = self.f.read()
        if not data:
            return []
        self.buf += data
        *done, self.buf = self.buf.split(b'\n')
        return [ln.decode('utf-8', 'replace').rstrip('\r') for ln in done]


def read_limits(paths):
    """Test name -> timeout in seconds, from tests.list-style files."""
    limits = {}
    for p in paths:
        try:
            with open(p, encoding='utf-8') as f:
                for ln in f:
                    w = ln.split()
                    if len(w) >= 2 and not w[0].startswith('#') and w[1].isdigit():
                        limits[w[0]] = int(w[1])
        except OSError:
            pass
    return limits


class Lane:
    """One guest, or guests one after the other: its console and TAP."""

    def __init__(self, boots, since, clock):
        self.boots = boots      # [(name, console, tap)]
        self.since = since
        self.clock = clock
        self.idx = -1
        self.next_boot()

    def next_boot(self):
        self.idx += 1
        self.name, console, tap = self.boots[self.idx]
        self.console = Tail(console, self.since)
        self.tap = Tail(tap, self.since)
        self.test = None        # (name, host time it started)
        self.last = None        # the last result's name
        self.results = 0
        self.plan = None
        self.done = False
        self.boot_t0 = self.clock()
        self.said = self.clock()    # last plain line of this lane

    def next_started(self):
        if self.idx + 1 >= len(self.boots):
            return False
        try:
            return os.stat(self.boots[self.idx + 1][1]).st_mtime >= self.since
        except OSError:
            return False

    def poll(self):
        """Read what is new; return the results as (kind, name,
        directive, how many so far)."""
        events = []
        if not self.console.started():
            self.boot_t0 = self.clock()
        for ln in self.console.lines():
            m = RUNNING.search(ln)
            if m:
                self.test = (m.group(1), self.clock())
                continue
            m = EXITED.search(ln)
            if m and self.test and m.group(1) == self.test[0]:
                self.test = None
        for ln in self.tap.lines():
            if ln.startswith(DONE):
                self.done = True
                self.test = None
                continue
            m = PLAN.match(ln)
            if m:
                self.plan = int(m.group(1))
                continue
            m = RESULT.match(ln)
            if m:
                self.results += 1
                self.last = m.group(3)
                if self.test and self.test[0] == self.last:
                    self.test = None
                events.append((m.group(1), self.last, m.group(4) or '', self.results))
        # The next boot of the lane has begun: this one is over.
        if self.next_started():
            events += self.stopped()
            self.next_boot()
            events += self.poll()
        return events

    def stopped(self):
        """The boot ended, or the run stopped, with a test unfinished."""
        if self.test is None:
            return []
        name, t = self.test
        self.test = None
        return [('stopped', name, self.clock() - t, self.results)]


class Guests:
    """The test each guest runs now; in plain mode each result."""

    def __init__(self, out, label, lanes, limits, scale, clock, since):
        self.out = out
        self.label = label
        self.limits = limits
        self.scale = scale
        self.clock = clock
        self.lanes = [Lane(b, since, clock) for b in lanes]

    def limit(self, name):
        t = self.limits.get(name)
        return None if t is None else t * self.scale

    def of_limit(self, el, name, sep):
        lim = self.limit(name)
        return fmt(el) + (f'{sep}{fmt_limit(lim)}' if lim else '')

    @staticmethod
    def count(lane, n=None):
        n = lane.results if n is None else n
        return f' [{n}/{lane.plan}]' if lane.plan else ''

    def result_line(self, lane, ev):
        kind, name, d, n = ev
        if kind == 'stopped':
            return (f'  {lane.name}: stopped during {name}, after '
                    f'{self.of_limit(d, name, " of ")}')
        d = d.strip()
        if kind == 'ok' and d.upper().startswith('SKIP'):
            s = 'skipped'
        else:
            s = kind
        detail = ''
        m = re.match(r'TIMEOUT after (\d+)s', d)
        t = re.search(r'\btime=([\d.]+)s', d)
        if m:
            detail = f', timed out after {fmt_limit(int(m.group(1)))}'
        elif t:
            detail = ', ' + self.of_limit(float(t.group(1)), name, ' of ')
        e = re.search(r'\bexit=(-?\d+)', d)
        if e:
            detail = f', exit {e.group(1)}' + detail
        return f'  {lane.name}: {s} {name}{detail}{self.count(lane, n)}'

    def lane_text(self, lane, now, name_width, counts=True):
        def short(name):
            if len(name) <= name_width:
                return name
            return '…' + name[len(name) - name_width + 1:]
        n = self.count(lane) if counts else ''
        if lane.test:
            name, t = lane.test
            return f'{short(name)} {self.of_limit(now - t, name, "/")}{n}'
        if lane.done:
            return f'done{n}'
        if not lane.console.started():
            return 'starting'
        if lane.last:
            return f'after {short(lane.last)}{n}'
        return f'booting {fmt(now - lane.boot_t0)}'

    def status(self, now):
        """One line for every lane, as much as the terminal's width takes:
        the test names are shortened from the left, then the counts go."""
        head = f'{self.label}: ' if self.label else ''

        def line(w, counts):
            if len(self.lanes) == 1:
                return head + self.lane_text(self.lanes[0], now, w, counts)
            return head + ' · '.join(f'{ln.name}: {self.lane_text(ln, now, w, counts)}'
                                     for ln in self.lanes)
        width = self.out.width() - 1
        for counts in (True, False):
            for w in (60, 40, 32, 24, 20, 16, 12):
                s = line(w, counts)
                if len(s) <= width:
                    return s
        return s

    def tick(self, final=False):
        now = self.clock()
        for lane in self.lanes:
            evs = lane.poll()
            if final:
                evs += lane.stopped()
            if self.out.tty:
                continue
            for ev in evs:
                lane.said = now
                self.out.line(self.result_line(lane, ev))
            if lane.test and now - max(lane.said, lane.test[1]) >= HEARTBEAT:
                lane.said = now
                name = lane.test[0]
                self.out.line(f'  {lane.name}: {name} running, '
                              f'{self.of_limit(now - lane.test[1], name, " of ")}')
        if not final:
            self.out.status(self.status(now))

    def interval(self):
        return 1 if self.out.tty else 2


class Bench:
    """gmem-bench's progress lines, and where it is."""

    def __init__(self, out, label, console, timeout, clock, since):
        self.out = out
        self.label = label
        self.tail = Tail(console, since)
        self.timeout = timeout
        self.clock = clock
        self.t0 = clock()
        self.last = None        # (design, phase, host time)

    def tick(self, final=False):
        now = self.clock()
        for ln in self.tail.lines():
            if 'gmem-bench' not in ln:
                continue
            self.out.line(ln)
            m = re.search(r'gmem-bench: ([^:]+): ([^:(]+)', ln)
            if m:
                self.last = (m.group(1).strip(), m.group(2).strip(), now)
        if final:
            return
        el = fmt(now - self.t0) + (f' of {fmt_limit(self.timeout)}' if self.timeout else '')
        if self.last:
            design, phase, t = self.last
            s = f'{self.label}: {design}, last: {phase}, {fmt(now - t)} ago · guest {el}'
        else:
            s = f'{self.label}: booting · guest {el}'
        self.out.status(s)

    def interval(self):
        return 1 if self.out.tty else 2


def choose_mode(arg, stream):
    mode = arg or os.environ.get('WB_PROGRESS', '')
    if mode in ('tty', 'plain', 'off'):
        return mode
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return 'tty' if tty and os.environ.get('TERM', '') != 'dumb' else 'plain'


class Stop:
    def __init__(self):
        self.flag = False

    def __call__(self, *_):
        self.flag = True


def run(tracker, stop, parent):
    """Poll until stopped or orphaned, then a last time."""
    def going():
        return stop.flag or os.getppid() != parent
    try:
        while not going():
            tracker.tick()
            end = time.monotonic() + tracker.interval()
            while not going() and time.monotonic() < end:
                time.sleep(0.2)
        tracker.tick(final=True)
        tracker.out.close()
    except BrokenPipeError:
        # Nobody reads stdout any more; say nothing at exit either.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except OSError:
            pass


class LaneAction(argparse.Action):
    """--lane starts a lane, --then adds a boot to the last one."""

    def __call__(self, parser, ns, values, option_string=None):
        lanes = getattr(ns, 'lanes', None) or []
        if option_string == '--lane' or not lanes:
            lanes.append([])
        lanes[-1].append(tuple(values))
        ns.lanes = lanes


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--mode', choices=('tty', 'plain', 'off'))
    p.add_argument('--parent', type=int,
                   help='exit when this process is no longer the parent')
    p.add_argument('--since', type=float,
                   help='ignore files older than this (seconds since the epoch; '
                   'default: 2 s before it starts)')
    sub = p.add_subparsers(dest='cmd', required=True)
    b = sub.add_parser('build')
    b.add_argument('obj')
    b.add_argument('--label', default='kernel build')
    b.add_argument('--prefix', default='')
    g = sub.add_parser('guest')
    g.add_argument('--label', default='guest')
    g.add_argument('--prefix', default='')
    g.add_argument('--list', action='append', default=[])
    g.add_argument('--scale', type=int, default=1)
    for opt in ('--lane', '--then'):
        g.add_argument(opt, nargs=3, action=LaneAction, dest='lanes',
                       metavar=('NAME', 'CONSOLE', 'TAP'))
    n = sub.add_parser('bench')
    n.add_argument('console')
    n.add_argument('--label', default='bench')
    n.add_argument('--prefix', default='')
    n.add_argument('--timeout', type=int, default=0)
    c = sub.add_parser('count')
    c.add_argument('obj')
    args = p.parse_args(argv)
    if args.cmd == 'guest' and not args.lanes:
        p.error('guest needs a --lane')
    return args


def make_tracker(args, out, clock=time.time):
    since = clock() - 2 if args.since is None else args.since
    if args.cmd == 'build':
        t0 = clock() - 1
        return Build(out, args.label, read_total(args.obj),
                     lambda: count_objects(args.obj, t0), clock)
    if args.cmd == 'guest':
        return Guests(out, args.label, args.lanes, read_limits(args.list),
                      args.scale, clock, since)
    return Bench(out, args.label, args.console, args.timeout, clock, since)


def main(argv):
    args = parse(argv)
    if args.cmd == 'count':
        print(count_objects(args.obj))
        return 0
    stop = Stop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, stop)
    mode = choose_mode(args.mode, sys.stdout)
    if mode == 'off':
        return 0
    sys.stdout.reconfigure(errors='replace')
    out = Out(sys.stdout, mode == 'tty', args.prefix)
    run(make_tracker(args, out), stop, args.parent or os.getppid())
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
