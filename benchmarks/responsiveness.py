"""Event-loop responsiveness while the widget trains on wide data: 2000
samples x 20,000 genes, 10 classes, hidden layer 256, 10 epochs, batch 64,
all genes, no early stopping (the data of benchmarks/wide.py). A 10 ms
QTimer on the GUI thread records when it fires; a stall is the gap between
consecutive ticks less 10 ms. Target: no stall over 100 ms.

    QT_QPA_PLATFORM=offscreen python benchmarks/responsiveness.py [--no-stacks]
        [--cells N [--defaults]] [--fits 1|2]

With --cells N (issue 12), the table is instead N cells of the sparse
synthetic single-cell counts of benchmarks/single_cell.py (20,000 genes,
5% counted, ten cell types), trained as that benchmark trains by hand
(top 200 genes, 10 epochs, no early stopping, one network) or, with
--defaults, with the widget's default settings (the automatic choice by
inner cross-validation). --fits 1 stops after the first fit.

Phases of the run, each reported on its own line:
  data sent    the input handler and handleNewSignals, as the canvas calls
               them; training starts inside (a learner widget refits on new
               data) and the line ends when that call returns;
  first fit    from there until the model is output; TensorFlow is imported
               inside this fit, as in the first fit of a canvas session;
  second fit   Apply pressed again with TensorFlow imported, until the
               model is output.
To tell where a stall went, the GUI thread's calls into the widget and
every garbage collection (which runs with the GIL held, on whichever thread
set it off) are timed, and a thread samples every thread's Python stack
every 5 ms (--no-stacks turns the sampler off, to check it does not cause
stalls). The CPU time other processes used meanwhile is printed: on a
shared 2-core machine it shows whether a run was disturbed. Then every
fit's phases as the widget showed them above its training curves ("Choosing
the network (inner cross-validation)…", "Measuring gene importance…", ...),
each with when it appeared and how long it stayed. Last, the time of one
full garbage collection with TensorFlow loaded is printed.
"""
import argparse
import collections
import gc
import os
import sys
import threading
import time

import numpy as np
import scipy.sparse as sp

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from AnyQt.QtCore import QEventLoop, Qt, QTimer  # noqa: E402
from AnyQt.QtWidgets import QApplication  # noqa: E402

from Orange.data import (  # noqa: E402
    ContinuousVariable, DiscreteVariable, Domain, Table)

import common  # noqa: F401,E402  (puts the add-on on the path)
from single_cell import BY_HAND, synthetic_sets  # noqa: E402
from wide import BATCH, CLASSES, EPOCHS, HIDDEN, synthetic_expression  # noqa: E402
from orangecontrib.neuralgene.widgets.owneuralgeneclassifier import (  # noqa: E402
    OWNeuralGeneClassifier)

TICK = 0.010  # s
STALL = 0.100  # s; the target
SETTINGS = {"auto_settings": False, "ensemble_size": 1,
            "hidden_layers": str(HIDDEN), "epochs": EPOCHS,
            "batch_size": BATCH, "keep_top_genes": False,
            "early_stopping": False, "auto_apply": True}
# the single-cell benchmark's fit by hand, as the widget's settings
SINGLE_CELL_BY_HAND = {
    "auto_settings": BY_HAND["auto"], "keep_top_genes": True,
    "n_genes": BY_HAND["n_genes"], "epochs": BY_HAND["epochs"],
    "early_stopping": BY_HAND["early_stopping"],
    "ensemble_size": BY_HAND["ensemble_size"], "auto_apply": True}
# a new widget's settings: the automatic choice
DEFAULT_SETTINGS = {"auto_apply": True}
# the widget's methods the GUI thread runs, timed to attribute stalls
WIDGET_CALLS = ("set_data", "handleNewSignals", "apply", "update_learner",
                "check_data", "update_model", "start", "_on_task_done",
                "on_partial_result", "on_done", "on_exception", "_send_model",
                "progressBarSet", "setStatusMessage",
                "set_partial_input_summary", "set_partial_output_summary")
PLOT_CALLS = ("set_history", "clear", "set_best_epoch")
FIT_TIMEOUT = 600  # s


def wide_table(n_samples=2000, n_genes=20000):
    X, y = synthetic_expression(n_samples, n_genes)
    domain = Domain(
        [ContinuousVariable(f"gene{i}") for i in range(n_genes)],
        DiscreteVariable("class", [f"c{i}" for i in range(CLASSES)]))
    return Table.from_numpy(domain, X, y.astype(float))


class TickProbe:
    """A precise 10 ms timer on the GUI thread that notes when it fires."""

    def __init__(self):
        self.ticks = []
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(round(TICK * 1000))
        self.timer.timeout.connect(lambda: self.ticks.append(time.perf_counter()))

    def last_before(self, moment):
        return max(i for i, t in enumerate(self.ticks) if t <= moment)

    def first_after(self, moment):
        return min(i for i, t in enumerate(self.ticks) if t >= moment)


class CallLog:
    """Start and end of the GUI thread's calls to chosen methods."""

    def __init__(self):
        self.calls = []  # (name, start, end, depth)
        self._depth = 0

    def trace(self, obj, names, prefix=""):
        for name in names:
            setattr(obj, name, self._traced(getattr(obj, name), prefix + name))

    def _traced(self, method, name):
        def traced(*args, **kwargs):
            if threading.current_thread() is not threading.main_thread():
                return method(*args, **kwargs)
            start, depth = time.perf_counter(), self._depth
            self._depth += 1
            try:
                return method(*args, **kwargs)
            finally:
                self._depth -= 1
                self.calls.append((name, start, time.perf_counter(), depth))
        return traced


class CollectionLog:
    """Start, end and thread of every garbage collection: a collection runs
    in C with the GIL held, whichever thread triggered it."""

    def __init__(self):
        self.collections = []  # (generation, start, end, thread name)
        self._start = {}

    def __call__(self, phase, info):
        thread = threading.current_thread().name
        if phase == "start":
            self._start[thread] = time.perf_counter()
        else:
            self.collections.append((info["generation"], self._start.pop(thread),
                                     time.perf_counter(), thread))


class StackSampler(threading.Thread):
    """Every thread's Python stack every few ms, and how late each sample is:
    a late sample means the GIL was held (or both cores were busy). Only the
    last two seconds are kept, and copied when the probe shows a stall: a
    growing heap of samples would set off long garbage collections itself."""

    def __init__(self, probe, interval=0.005, keep=2.0):
        super().__init__(name="stack sampler", daemon=True)
        self.probe = probe
        self.interval = interval
        self.recent = collections.deque(maxlen=round(keep / interval))
        self.samples = {}  # time -> (time, oversleep, {thread: stack}), near stalls
        self.importing = []  # first and last time another thread imported
        self._last_tick = 0  # index of the last probe tick looked at
        self._stopping = threading.Event()

    def run(self):
        while not self._stopping.is_set():
            due = time.perf_counter() + self.interval
            time.sleep(self.interval)
            now = time.perf_counter()
            names = {t.ident: t.name for t in threading.enumerate()}
            stacks = {names.get(ident, str(ident)): frames_of(frame)
                      for ident, frame in sys._current_frames().items()
                      if ident != self.ident}
            self.recent.append((now, now - due, stacks))
            if any(importing for thread, (_, importing) in stacks.items()
                   if thread != "MainThread"):
                self.importing[1:] = [now] if self.importing else [now, now]
            self._keep_if_stalled()

    def _keep_if_stalled(self):
        ticks = self.probe.ticks[self._last_tick:]
        self._last_tick += max(len(ticks) - 1, 0)
        if any(b - a - TICK > STALL for a, b in zip(ticks, ticks[1:])):
            self.samples.update((sample[0], sample) for sample in self.recent)

    def stop(self):
        self._stopping.set()
        self.join()
        self._keep_if_stalled()


def frames_of(frame, limit=60):
    """(file, line, function) from the innermost frame outwards, and the
    module being imported, if any."""
    frames, importing = [], None
    while frame is not None and len(frames) < limit:
        code = frame.f_code
        frames.append((code.co_filename, frame.f_lineno, code.co_name))
        if importing is None and code.co_name == "_find_and_load":
            importing = frame.f_locals.get("name")
        frame = frame.f_back
    return tuple(frames), importing


def describe(stack, depth=3):
    """The innermost frames, and the innermost one in the add-on if deeper."""
    frames, importing = stack
    if frames[0][2] == run_loop_until.__name__:
        return "in the event loop, no Python call (idle, or Qt's own C++)"
    def short(frame):
        filename, line, function = frame
        return f"{function} ({'/'.join(filename.split(os.sep)[-2:])}:{line})"
    shown = [short(f) for f in frames[:depth]]
    ours = next((f for f in frames if "neuralgene" in f[0]), None)
    if ours is not None and ours not in frames[:depth]:
        shown.append("... " + short(ours))
    if importing:
        shown.insert(0, f"[importing {importing}]")
    return " <- ".join(shown)


def run_loop_until(condition, timeout):
    """Spin the event loop (as the canvas's does) until `condition()` holds."""
    loop = QEventLoop()
    check = QTimer(interval=20)
    check.timeout.connect(lambda: condition() and loop.quit())
    check.start()
    QTimer.singleShot(round(timeout * 1000), loop.quit)
    loop.exec()
    check.stop()


def call_in_loop(function):
    """Call `function` from the running event loop; return its start and end."""
    moments = []

    def call():
        moments.append(time.perf_counter())
        function()
        moments.append(time.perf_counter())

    QTimer.singleShot(0, call)
    run_loop_until(lambda: len(moments) == 2, 60)
    return moments


def busy_cpu_seconds():
    """CPU seconds all processes, and this one, have used (Linux)."""
    with open("/proc/stat") as stat:
        jiffies = [int(n) for n in stat.readline().split()[1:]]
    idle = jiffies[3] + jiffies[4]  # idle, iowait
    own = os.times()
    return ((sum(jiffies) - idle) / os.sysconf("SC_CLK_TCK"),
            own.user + own.system)


def stall_figures(gaps):
    stalls = np.maximum(np.asarray(gaps) - TICK, 0)
    return stalls.max(), np.percentile(stalls, 99), int(np.sum(stalls > STALL))


class PhaseLog:
    """What the widget's phase line showed, and when (GUI thread)."""

    def __init__(self, label):
        self.shown = []  # (time, text)
        set_text = label.setText

        def record(text):
            set_text(text)
            if not self.shown or self.shown[-1][1] != text:
                self.shown.append((time.perf_counter(), text))
        label.setText = record

    def between(self, start, end):
        return [(t, text) for t, text in self.shown if start <= t <= end]


def measure(table, settings, with_stacks, n_fits=2):
    """Send `table` to a fresh widget, then press Apply (unless `n_fits`
    is 1); probe throughout."""
    widget = OWNeuralGeneClassifier.__new__(
        OWNeuralGeneClassifier, signal_manager=None, stored_settings=settings)
    widget.__init__()
    widget.show()
    phase_log = PhaseLog(widget.phase_label)
    calls = CallLog()
    calls.trace(widget, WIDGET_CALLS)
    calls.trace(widget.plot, PLOT_CALLS, prefix="plot.")
    calls.trace(widget.Outputs.model, ("send",), prefix="Outputs.model.")
    outputs = []  # (value, when sent)
    send_model = widget.Outputs.model.send

    def record_output(value, *args, **kwargs):
        send_model(value, *args, **kwargs)
        outputs.append((value, time.perf_counter()))
    widget.Outputs.model.send = record_output

    def model_out(n):  # the n-th model, not counting the Nones sent before
        return sum(value is not None for value, _ in outputs) >= n

    def fit(trigger, n_output):
        start, end = call_in_loop(trigger)
        run_loop_until(lambda: model_out(n_output), FIT_TIMEOUT)
        if not model_out(n_output):
            sys.exit(f"no model after {FIT_TIMEOUT} s; errors: "
                     f"{[str(m) for m in widget.Error.active]}")
        done = outputs[-1][1]
        run_loop_until(lambda: probe.ticks[-1] > done, 1.0)
        return start, end, done

    def send_data():
        widget.set_data(table)  # the input handler, as the canvas calls it
        widget.handleNewSignals()

    # other processes on the 2 cores would skew the figures: note their share
    busy_before = busy_cpu_seconds()
    probe = TickProbe()
    collection_log = CollectionLog()
    gc.callbacks.append(collection_log)
    sampler = StackSampler(probe) if with_stacks else None
    probe.timer.start()
    if sampler:
        sampler.start()
    run_loop_until(lambda: False, 1.0)  # idle, for the probe's own jitter
    idle_end = len(probe.ticks) - 1
    sent, sent_end, first_done = fit(send_data, 1)
    if n_fits > 1:
        applied, _, second_done = fit(widget.apply, 2)
    probe.timer.stop()
    gc.callbacks.remove(collection_log)
    busy, own = np.subtract(busy_cpu_seconds(), busy_before)
    if sampler:
        sampler.stop()
    learner = widget.learner
    widget.onDeleteWidget()

    phases = [
        ("idle, before any data", 0, idle_end),
        ("data sent (handler + handleNewSignals)",
         probe.last_before(sent), probe.first_after(sent_end)),
        ("first fit -> model output (imports TF)",
         probe.first_after(sent_end), probe.first_after(first_done)),
    ]
    fits = [("first fit", sent, first_done)]
    if n_fits > 1:
        phases.append(("second fit: Apply -> model output",
                       probe.last_before(applied),
                       probe.first_after(second_done)))
        fits.append(("second fit", applied, second_done))
    if learner.auto:
        how = (f"settings chosen automatically (inner cross-validation), "
               f"{learner.ensemble_size} networks averaged")
    else:
        how = (f"set by hand: hidden {learner.hidden_layers}, "
               f"{learner.epochs} epochs, batch {learner.batch_size}, genes "
               f"{learner.n_genes or 'all'}, early stopping "
               f"{learner.early_stopping}, {learner.ensemble_size} "
               f"network(s)")
    X = table.X
    kind = (f"sparse, {X.nnz / np.prod(X.shape):.0%} non-zero"
            if sp.issparse(X) else "dense")
    print(f"Event loop while training on {len(table)} samples x "
          f"{len(table.domain.attributes)} genes ({kind}), "
          f"{len(table.domain.class_var.values)} classes, {how}; "
          f"{os.cpu_count()} cores, "
          f"QT_QPA_PLATFORM={os.environ['QT_QPA_PLATFORM']}, stack sampler "
          f"{'off' if sampler is None else 'on'}; CPU time meanwhile: "
          f"this process {own:.1f} s, others {busy - own:.1f} s")
    shown = [(label, start, done, phase_log.between(start, done))
             for label, start, done in fits]
    return (np.asarray(probe.ticks), phases, calls, collection_log, sampler,
            shown)


def report(ticks, phases, calls, collection_log, sampler, shown):
    print(f"  {'phase':<42}{'window':>9}{'max stall':>11}{'p99':>9}"
          f"{'>100 ms':>9}")
    for label, first, last in phases:
        worst, p99, n_over = stall_figures(np.diff(ticks[first:last + 1]))
        print(f"  {label:<42}{ticks[last] - ticks[first]:8.2f}s"
              f"{1000 * worst:9.0f}ms{1000 * p99:7.0f}ms{n_over:9d}")
    origin = ticks[0]
    print("  GUI-thread calls over 20 ms (s from probe start, duration):")
    for name, start, end, depth in sorted(calls.calls, key=lambda c: c[1]):
        if end - start > 0.020:
            print(f"    {start - origin:7.2f}s  {1000 * (end - start):7.0f} ms"
                  f"  {'  ' * depth}{name}")
    print("  garbage collections over 50 ms (s from probe start, duration):")
    for generation, start, end, thread in collection_log.collections:
        if end - start > 0.050:
            print(f"    {start - origin:7.2f}s  {1000 * (end - start):7.0f} ms"
                  f"  generation {generation} on {thread}")
    if sampler and sampler.importing:
        print(f"  other threads were importing modules from "
              f"{sampler.importing[0] - origin:.2f} s to "
              f"{sampler.importing[-1] - origin:.2f} s")
    long_ones = np.flatnonzero(np.diff(ticks) - TICK > STALL)
    print(f"  stalls over {STALL * 1000:.0f} ms: {len(long_ones)}")
    for i in long_ones:
        print(f"    {ticks[i] - origin:7.2f}s  stall "
              f"{1000 * (ticks[i + 1] - ticks[i] - TICK):6.0f} ms")
        explain_stall(ticks[i], ticks[i + 1], calls, collection_log, sampler)
    report_phases(shown)


def report_phases(shown):
    """Each fit's time, and the phases its widget showed: when each
    appeared (s from the fit's start) and how long it stayed."""
    for label, start, done, texts in shown:
        print(f"  {label}: {done - start:.1f} s from the data (or Apply) to "
              f"the model; the phase line showed:")
        ends = [t for t, _ in texts[1:]] + [None]
        for (when, text), end in zip(texts, ends):
            stayed = (f"{end - when:7.1f} s" if end is not None
                      else "   (kept)")
            print(f"    {when - start:7.1f} s {stayed}  {text or '(empty)'}")


def explain_stall(a, b, calls, collection_log, sampler):
    """What ran between GUI ticks at `a` and `b`."""
    inside = [c for c in calls.calls if c[1] < b and c[2] > a]
    for name, start, end, depth in sorted(inside, key=lambda c: c[1]):
        print(f"      GUI call {'  ' * depth}{name} "
              f"{1000 * (end - start):.0f} ms")
    for generation, start, end, thread in collection_log.collections:
        if start < b and end > a and end - start > 0.005:
            print(f"      garbage collection, generation {generation}, "
                  f"on {thread}: {1000 * (end - start):.0f} ms")
    if sampler is None:
        return
    kept = sorted(sampler.samples.values(), key=lambda s: s[0])
    during = [s for s in kept if a < s[0] <= b]
    before = [s for s in kept if s[0] <= a][-1:]
    # a sampler held up as long as the GUI thread waited on the GIL too
    after = [s for s in kept if s[0] > b][:1]
    late = max((s[1] for s in during + after), default=0)
    print(f"      sampler: {len(during)} samples in the gap, longest "
          f"oversleep {1000 * late:.0f} ms")
    for when, samples in (("before", before), ("during", during)):
        seen = collections.Counter(
            (thread, describe(stack)) for _, _, stacks in samples
            for thread, stack in stacks.items() if stack[0])
        for (thread, where), n in seen.most_common(6):
            print(f"      {when:<6} {n:3d}x {thread}: {where}")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--genes", type=int, default=20000)
    parser.add_argument("--no-stacks", action="store_true")
    parser.add_argument("--cells", type=int,
                        help="train on this many cells of sparse synthetic "
                             "single-cell counts instead of the wide table")
    parser.add_argument("--defaults", action="store_true",
                        help="with --cells: the widget's default settings "
                             "(automatic choice) instead of by hand")
    parser.add_argument("--fits", type=int, choices=(1, 2), default=2,
                        help="1: only the first fit, without Apply")
    args = parser.parse_args()
    if args.cells:
        table, _ = synthetic_sets(args.cells, args.genes)
        settings = DEFAULT_SETTINGS if args.defaults else SINGLE_CELL_BY_HAND
    else:
        table, settings = wide_table(args.samples, args.genes), SETTINGS
    app = QApplication.instance() or QApplication([])  # noqa: F841
    report(*measure(table, settings, with_stacks=not args.no_stacks,
                    n_fits=args.fits))
    report_full_collection()


def report_full_collection():
    """A full collection scans every tracked object with the GIL held, on
    whichever thread sets it off; Python runs one when long-lived objects
    have grown by a quarter, Orange's canvas after deleting a widget. Its
    cost with TensorFlow loaded is the stall that remains possible."""
    start = time.perf_counter()
    gc.collect()
    took = time.perf_counter() - start
    print(f"  one full garbage collection afterwards: {1000 * took:.0f} ms "
          f"over {len(gc.get_objects()):,} tracked objects (not part of "
          f"either fit; Python or Orange may run one at any time)")


if __name__ == "__main__":
    main()
