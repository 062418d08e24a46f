#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Tests of workbench/progress.py, run by tests/run.sh.

A recorded object count sequence (data/progress-build.counts) and a
recorded guest run (data/progress.console and data/progress.tap, written
to files as the guest wrote them, CRLF included) are played on a fake
clock; the lines printed for a terminal and for a pipe are checked. Then
the program itself: a run stopped by SIGTERM prints what its files hold,
and one whose parent is gone exits by itself.
"""

import importlib.util
import io
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, 'data')
PROG = os.path.join(HERE, '..', 'progress.py')
LISTS = [os.path.join(HERE, '..', 'tests.list'),
         os.path.join(HERE, '..', 'tests-reserve.list')]

# The terminal's width, whatever runs the tests.
os.environ['COLUMNS'] = '100'
# No __pycache__ in the tree.
sys.dont_write_bytecode = True

spec = importlib.util.spec_from_file_location('progress', PROG)
progress = importlib.util.module_from_spec(spec)
spec.loader.exec_module(progress)

cases = 0
fails = 0


def check(name, ok, output=''):
    global cases, fails
    cases += 1
    if not ok:
        fails += 1
        print(f'progress: FAIL {name}', file=sys.stderr)
        for ln in output.splitlines()[-30:]:
            print(f'  | {ln!r}', file=sys.stderr)


class Clock:
    def __init__(self, t=1000.0):
        self.t = t

    def __call__(self):
        return self.t


def frames(text):
    """A terminal's redraws: what follows each clear of the line."""
    return [f for f in text.split('\r\033[K') if f]


PREFIX = '[6/10] kernel build (check: lockdep, DEBUG_VM, kmemleak) (ccache) … '


def build_counts():
    seq = []
    with open(os.path.join(DATA, 'progress-build.counts'), encoding='ascii') as f:
        for ln in f:
            if ln.strip() and not ln.startswith('#'):
                t, n = ln.split()
                seq.append((int(t), int(n)))
    return seq


def play_build(tty, total, seq, step=None):
    """Tick every step seconds over seq; return the output."""
    clock = Clock()
    buf = io.StringIO()
    out = progress.Out(buf, tty, PREFIX)
    cur = [0]
    b = progress.Build(out, '[6/10] kernel build', total, lambda: cur[0], clock)
    t0 = clock.t
    step = step or (1 if tty else 5)
    i = 0
    end = seq[-1][0]
    for t in range(0, end + 1, step):
        while i < len(seq) and seq[i][0] <= t:
            cur[0] = seq[i][1]
            i += 1
        clock.t = t0 + t
        b.tick()
    b.tick(final=True)
    out.close()
    return buf.getvalue()


def test_build():
    seq = build_counts()
    total = seq[-1][1]

    # A pipe: a line a minute, no carriage return, no escape; the
    # stage's line is closed first and put back at the end.
    s = play_build(False, total, seq)
    lines = s.split('\n')
    check('build, pipe: no redrawing', '\r' not in s and '\033' not in s, s)
    check('build, pipe: the stage line ends first, is put back last',
          s.startswith('\n  [6/10] kernel build: ') and s.endswith('\n' + PREFIX), s)
    body = [ln for ln in lines[1:-1]]
    check('build, pipe: one line a minute', len(body) == seq[-1][0] // 60, s)
    check('build, pipe: first line',
          body[0] == '  [6/10] kernel build: 114/2210 objects (5%), 1m00s, about 19 min left', s)
    want = re.compile(r'^  \[6/10\] kernel build: (\d+)/2210 objects \((\d+)%\), (\d+)m00s'
                      r'(, about (\d+) min left|, under a minute left)?$')
    ok = all(want.match(ln) for ln in body)
    check('build, pipe: every line has count, percentage, time, estimate', ok, s)
    # Half way through the recorded build, the estimate is within a
    # third of what the build really took from there.
    for ln in body:
        m = want.match(ln)
        if int(m.group(1)) >= total // 2 and m.group(5):
            left = int(m.group(5)) * 60
            real = seq[-1][0] - int(m.group(3)) * 60
            check('build: estimate half way', abs(left - real) <= real / 3,
                  f'{ln}: really {real}s left')
            break

    # A terminal: one line redrawn, never a newline, the stage's line
    # given back at the end.
    s = play_build(True, total, seq)
    fr = frames(s)
    check('build, terminal: no newline', '\n' not in s, s)
    check('build, terminal: redrawn every second or two', len(fr) > seq[-1][0] // 2, s)
    check('build, terminal: ends with the stage line', s.endswith('\r\033[K' + PREFIX), s)
    mid = [f for f in fr if ', 15m00s' in f]
    check('build, terminal: a frame at 15 minutes',
          len(mid) == 1 and re.fullmatch(
              r'\[6/10\] kernel build: \d+/2210 objects \(\d\d%\), 15m00s, about \d+ min left',
              mid[0]) is not None, '\n'.join(mid) or s)
    check('build, terminal: fits 80 columns', all(len(f) < 80 for f in fr), s)

    # The first build of a configuration: a count and the time only.
    s = play_build(False, None, seq)
    body = s.split('\n')[1:-1]
    check('build, cold: count and time only',
          body[0] == '  [6/10] kernel build: 114 objects, 1m00s' and
          not any('%' in ln or 'left' in ln for ln in body), s)
    # A rebuild of a few objects: no estimate, which would be wrong.
    s = play_build(True, 2215, [(0, 0), (20, 30), (40, 52), (150, 52)])
    check('build, few objects: no estimate',
          frames(s)[-2] == '[6/10] kernel build: 52/2215 objects (2%), 2m30s', s)
    # More objects than last time.
    s = play_build(True, 100, [(0, 0), (30, 150)])
    check('build, more than the last count',
          frames(s)[-2] == '[6/10] kernel build: 150 objects (the last build had 100), 30s', s)

    # Counting: *.o since the start, not in dot directories, no symlinks.
    with tempfile.TemporaryDirectory() as d:
        old = time.time() - 3600
        for p in ('a.o', 'sub/b.o', 'sub/c.c', '.tmp/d.o', 'sub/.e.o'):
            os.makedirs(os.path.dirname(os.path.join(d, p)), exist_ok=True)
            open(os.path.join(d, p), 'w').close()
        os.utime(os.path.join(d, 'a.o'), (old, old))
        os.symlink(os.path.join(d, 'a.o'), os.path.join(d, 'f.o'))
        os.symlink(d, os.path.join(d, 'source'))
        n_all = progress.count_objects(d)
        n_new = progress.count_objects(d, time.time() - 60)
        check('count_objects', (n_all, n_new) == (2, 1), f'{n_all} {n_new}')
        check('no count file', progress.read_total(d) is None)
        with open(os.path.join(d, '.wb-objects'), 'w') as f:
            f.write('2215\n')
        check('count file', progress.read_total(d) == 2215)


def guest_events(console, tap, offset=5.0, stop_at=None):
    """(host time, file, text) of a recorded run: each test's TAP lines
    go out when its console says it exited, as the guest's init does."""
    with open(os.path.join(DATA, console), encoding='utf-8') as f:
        con = f.read().splitlines()
    with open(os.path.join(DATA, tap), encoding='utf-8') as f:
        tlines = f.read().splitlines()
    ev = []
    ti = 0

    def tap_until(t, pred):
        nonlocal ti
        while ti < len(tlines):
            ln = tlines[ti]
            ev.append((t, 'tap', ln))
            ti += 1
            if pred(ln):
                break
    t = 0.0
    for ln in con:
        m = re.match(r'\[\s*([\d.]+)\]', ln)
        t = float(m.group(1)) + offset
        if stop_at is not None and t > stop_at:
            return ev
        ev.append((t, 'console', ln))
        if 'Run /init' in ln:
            tap_until(t, lambda x: x.startswith('1..'))
        m = re.search(r'wb: (\S+) exit', ln)
        if m:
            name = m.group(1)
            tap_until(t, lambda x, n=name: re.match(rf'(not )?ok \d+ {re.escape(n)}( |$)', x))
    tap_until(t, lambda x: False)
    return ev


def play_guests(tty, lanes, events, scale=1, columns=100, step=10, until=None,
                label='[8/10] boot + tests'):
    """lanes: [[(name, console, tap)]] in a temporary directory; events:
    {path: [(t, text)]}. Returns the output."""
    os.environ['COLUMNS'] = str(columns)
    clock = Clock(0.0)
    buf = io.StringIO()
    out = progress.Out(buf, tty, '' if len(lanes) > 1 else label + ' in QEMU … ')
    g = progress.Guests(out, label if len(lanes) == 1 else '', lanes,
                        progress.read_limits(LISTS), scale, clock, 0)
    allev = sorted((t, path, text) for path, evs in events.items() for t, text in evs)
    end = until if until is not None else (allev[-1][0] + 20 if allev else 60)
    i = 0
    t = 0.0
    while t <= end:
        while i < len(allev) and allev[i][0] <= t:
            _, path, text = allev[i]
            with open(path, 'ab') as f:
                f.write((text + '\r\n').encode())
            i += 1
        clock.t = t
        g.tick()
        t += step
    g.tick(final=True)
    out.close()
    return buf.getvalue()


def lane_files(d, sfx, events):
    c, tp = os.path.join(d, f'console{sfx}.log'), os.path.join(d, f'results{sfx}.tap')
    out = {c: [], tp: []}
    for t, kind, text in events:
        out[c if kind == 'console' else tp].append((t, text))
    return c, tp, out


def test_guest():
    ev = guest_events('progress.console', 'progress.tap')
    with tempfile.TemporaryDirectory() as d:
        c, tp, files = lane_files(d, '', ev)
        s = play_guests(False, [[('guest', c, tp)]], files)
    lines = s.split('\n')
    prefix = '[8/10] boot + tests in QEMU … '
    check('guest, pipe: no redrawing', '\r' not in s and '\033' not in s, s)
    check('guest, pipe: the stage line ends first, is put back last',
          s.startswith('\n') and s.endswith('\n' + prefix), s)
    results = [ln for ln in lines if re.match(r'  guest: (ok|not ok|skipped) ', ln)]
    check('guest, pipe: a line per test', len(results) == 16, s)
    check('guest, pipe: result, time against the limit, count',
          '  guest: ok gmem_track/vmemmap_test, 5m09s of 60m [1/16]' in lines and
          '  guest: ok gmem/conversion_test/upstream, 40s of 5m [4/16]' in lines and
          '  guest: ok kunit/gmem_track [12/16]' in lines, s)
    beat = [ln for ln in lines if 'running' in ln]
    check('guest, pipe: a line for a test running 5 minutes',
          len(beat) >= 3 and re.fullmatch(
              r'  guest: gmem_track/vmemmap_test running, 5m\d\ds of 60m', beat[0]) is not None,
          s)
    check('guest, pipe: short tests get no running line',
          not any('guest_memfd_test running' in ln for ln in lines), s)

    # A terminal: the test running now against its limit, the count.
    with tempfile.TemporaryDirectory() as d:
        c, tp, files = lane_files(d, '', ev)
        s = play_guests(True, [[('guest', c, tp)]], files, step=1)
    fr = frames(s)
    check('guest, terminal: no newline', '\n' not in s, s)
    check('guest, terminal: ends with the stage line', s.endswith('\r\033[K' + prefix), s)
    check('guest, terminal: booting',
          '[8/10] boot + tests: booting 10s' in fr, '\n'.join(fr[:30]))
    check('guest, terminal: the test, its time, its limit, the count',
          '[8/10] boot + tests: gmem/conversion_test/tracked 1m40s/20m [2/16]' in fr,
          '\n'.join(f for f in fr if 'tracked' in f)[:3000])
    check('guest, terminal: done', fr[-2] == '[8/10] boot + tests: done [16/16]', s[-500:])

    # make check DEBUG=1: the limits are four times those of tests.list.
    with tempfile.TemporaryDirectory() as d:
        c, tp, files = lane_files(d, '', ev)
        s = play_guests(False, [[('guest', c, tp)]], files, scale=4, step=30)
    check('guest, scaled limits',
          '  guest: ok gmem_track/vmemmap_test, 5m09s of 240m [1/16]' in s.split('\n'), s)

    # Two guests: the second hangs in its second test; its reservation
    # boot never comes. One terminal line shows both.
    hung = guest_events('progress.console', 'progress.tap', offset=2.0, stop_at=700)
    with tempfile.TemporaryDirectory() as d:
        c1, t1, f1 = lane_files(d, '', ev)
        c2, t2, f2 = lane_files(d, '-2', hung)
        cr, tr = os.path.join(d, 'console-reserve.log'), os.path.join(d, 'results-reserve.tap')
        lanes = [[('guest 1', c1, t1)],
                 [('guest 2', c2, t2), ('reservation boot', cr, tr)]]
        s = play_guests(True, lanes, {**f1, **f2}, columns=80, step=5, until=900)
        fr = frames(s)
        both = [f for f in fr if f.startswith('guest 1: ') and ' · guest 2: ' in f]
        check('two guests, terminal: one line for both', len(both) == len(fr), '\n'.join(fr[-5:]))
        check('two guests, terminal: 80 columns', all(len(f) <= 79 for f in fr),
              '\n'.join(f for f in fr if len(f) > 79)[:2000])
        check('two guests, terminal: long names shortened',
              any('…' in f and '/20m' in f for f in fr), '\n'.join(fr[-5:]))
    with tempfile.TemporaryDirectory() as d:
        c1, t1, f1 = lane_files(d, '', ev)
        c2, t2, f2 = lane_files(d, '-2', hung)
        cr, tr = os.path.join(d, 'console-reserve.log'), os.path.join(d, 'results-reserve.tap')
        lanes = [[('guest 1', c1, t1)],
                 [('guest 2', c2, t2), ('reservation boot', cr, tr)]]
        s = play_guests(False, lanes, {**f1, **f2}, step=5, until=900)
        lines = s.split('\n')
        check('two guests, pipe: each line names its guest',
              '  guest 1: ok gmem_track/vmemmap_test, 5m09s of 60m [1/16]' in lines and
              '  guest 2: ok gmem_track/vmemmap_test, 5m09s of 60m [1/16]' in lines, s)
        check('two guests, pipe: where the run was when it stopped',
              lines[-2].startswith('  guest 2: stopped during gmem/conversion_test/tracked, '
                                   'after ') and
              lines[-2].endswith(' of 20m') and
              '  guest 1: stopped during gmem/conversion_test/tracked, after 3m55s of 20m'
              in lines, s)

    # The second guest's boot ends and the reservation boot follows in
    # the same lane; a file left by an earlier run is not read.
    short = [e for e in guest_events('progress.console', 'progress.tap') if e[0] < 400]
    short += [(400, 'tap', '# wb: done')]
    rsv = [(t + 420, k, x) for t, k, x in [
        (1, 'console', '[    1.0] Run /init as init process'),
        (1, 'tap', 'TAP version 13'), (1, 'tap', '1..3'),
        (2, 'console', '[    2.0] wb: running kvm/x86/gmem_track_test/reserve_1g_map'),
        (62, 'tap', 'not ok 1 kvm/x86/gmem_track_test/reserve_1g_map # exit=1 time=60.0s'),
        (62, 'console', '[   62.0] wb: running gmem_track/reserve_test'),
        (80, 'tap', 'not ok 2 gmem_track/reserve_test # TIMEOUT after 1200s'),
        (81, 'tap', 'ok 3 kunit/gmem_track_reserve # SKIP'),
        (82, 'tap', '# wb: done')]]
    with tempfile.TemporaryDirectory() as d:
        c2, t2, f2 = lane_files(d, '-2', short)
        cr, tr, fr_ = lane_files(d, '-reserve', rsv)
        for p in (cr, tr):     # an earlier run's, an hour old
            with open(p, 'w') as f:
                f.write('TAP version 13\n1..9\nok 1 stale # time=1.0s\n')
            os.utime(p, (time.time() - 3600, time.time() - 3600))
        clock = Clock(0.0)
        buf = io.StringIO()
        out = progress.Out(buf, False)
        g = progress.Guests(out, 'guests', [[('guest 2', c2, t2), ('reservation boot', cr, tr)]],
                            progress.read_limits(LISTS), 1, clock, time.time() - 2)
        allev = sorted((t, p, x) for p, evs in {**f2, **fr_}.items() for t, x in evs)
        for t in range(0, 520, 2):
            for e in [e for e in allev if t - 2 < e[0] <= t]:
                if e[1] in (cr, tr) and os.path.getmtime(e[1]) < time.time() - 60:
                    open(e[1], 'w').close()     # qemu.sh removes, QEMU creates
                with open(e[1], 'a') as f:
                    f.write(e[2] + '\r\n')
            clock.t = t
            g.tick()
        g.tick(final=True)
        s = buf.getvalue()
        lines = s.split('\n')
        check('lane: the stale file is not read', 'stale' not in s, s)
        check('lane: the reservation boot follows, failures and skips',
              '  reservation boot: not ok kvm/x86/gmem_track_test/reserve_1g_map, exit 1, '
              '1m00s of 20m [1/3]' in lines and
              '  reservation boot: not ok gmem_track/reserve_test, timed out after 20m [2/3]'
              in lines and
              '  reservation boot: skipped kunit/gmem_track_reserve [3/3]' in lines, s)
        check('lane: a boot that ended is not stopped during a test',
              'stopped' not in s, s)


def test_bench():
    lines = [
        (3, '[    0.000000] Linux version 7.3.4 (gmem_track@workbench)'),
        (20, 'gmem-bench: upstream-4k: fallocate 2048 MiB: 757000000 ns/GiB (1.6 s; 2.1 s in all)'),
        (21, '[   21.000000] random kernel line'),
        (30, 'gmem-bench: upstream-4k: overhead f=0: 0 ioctls, vmemmap 0 (+0 pg), PT +0, '
             'slab +0: 0 B/GiB (9.0 s; 11.1 s in all)'),
    ]
    want = [x for _, x in lines if 'gmem-bench' in x]
    for tty in (False, True):
        with tempfile.TemporaryDirectory() as d:
            con = os.path.join(d, 'console.log')
            clock = Clock(0.0)
            buf = io.StringIO()
            out = progress.Out(buf, tty)
            b = progress.Bench(out, 'bench', con, 5400, clock, 0)
            for t in range(0, 60):
                for tt, x in lines:
                    if tt == t:
                        with open(con, 'a') as f:
                            f.write(x + '\r\n')
                clock.t = t
                b.tick()
            b.tick(final=True)
            out.close()
            s = buf.getvalue()
        if not tty:
            check('bench, pipe: gmem-bench\'s lines, as they come, without CR',
                  s == ''.join(x + '\n' for x in want), s)
        else:
            fr = frames(s)
            kept = [f.split('\n')[0] for f in fr if '\n' in f]
            check('bench, terminal: gmem-bench\'s lines stay', kept == want, s)
            check('bench, terminal: booting', 'bench: booting · guest 10s of 90m' in fr, s)
            check('bench, terminal: the design, its last phase, the time',
                  'bench: upstream-4k, last: overhead f=0, 29s ago · guest 59s of 90m' in
                  [f.split('\n')[-1] for f in fr], '\n'.join(fr[-3:]))


def test_process():
    """The program: SIGTERM makes it read its files a last time and
    put the stage line back; it exits when its parent is gone."""
    with tempfile.TemporaryDirectory() as d:
        c, tp = os.path.join(d, 'console.log'), os.path.join(d, 'results.tap')
        p = subprocess.Popen([sys.executable, PROG, '--mode', 'plain', 'guest',
                              '--label', 'boot', '--prefix', 'P … ', '--lane', 'guest', c, tp,
                              '--list', LISTS[0]],
                             stdout=subprocess.PIPE, text=True)
        time.sleep(0.7)
        ev = guest_events('progress.console', 'progress.tap')
        for _, kind, text in ev:
            with open(c if kind == 'console' else tp, 'a') as f:
                f.write(text + '\r\n')
        p.send_signal(signal.SIGTERM)
        try:
            out, _ = p.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
        n = sum(1 for ln in out.split('\n') if ln.startswith('  guest: ok '))
        check('program: SIGTERM, every result, the stage line back',
              p.returncode == 0 and n == 16 and out.startswith('\n') and out.endswith('\nP … '),
              out)
        # Started by a shell that then exits: it must not stay behind.
        r = subprocess.run(['bash', '-c', f'"{sys.executable}" "{PROG}" --mode plain '
                            f'--parent $$ build "{d}" >/dev/null & echo $!; sleep 0.5'],
                           capture_output=True, text=True)
        pid = int(r.stdout.split()[0])
        gone = False
        for _ in range(30):
            try:
                with open(f'/proc/{pid}/stat') as f:
                    gone = f.read().rsplit(')', 1)[1].split()[0] in 'ZX'
            except OSError:
                gone = True
            if gone:
                break
            time.sleep(0.1)
        if not gone:
            os.kill(pid, signal.SIGKILL)
        check('program: exits when its parent is gone', gone)


def main():
    test_build()
    test_guest()
    test_bench()
    test_process()
    if fails:
        print(f'progress: {fails} of {cases} cases failed', file=sys.stderr)
        return 1
    print(f'progress: {cases} cases ok')
    return 0


if __name__ == '__main__':
    sys.exit(main())
