"""Canvas start-up cost of the widget: importing
orangecontrib.neuralgene.widgets.owneuralgeneclassifier against importing
Orange's own Neural Network widget module, each in fresh interpreters
(alternating, median of the repeats); prints both medians, the difference
(target: at most 0.3 s more than Orange's) and whether TensorFlow or Keras
was imported along with our module (it must not be).

    python benchmarks/startup.py [--repeats N]

What counts as already imported: before the timed import each interpreter
imports Orange's canvas entry module (Orange.canvas.__main__: Qt, pyqtgraph,
orangecanvas, Orange.data, scikit-learn...) and the base classes that every
learner widget on the canvas shares (Orange.widgets.widget and
Orange.widgets.utils.owlearnerwidget, which bring Orange.widgets.gui and
Orange.classification). Modules only some widgets use, such as
Orange.widgets.utils.concurrent or Orange's plot utilities, are left inside
the timed import, so each figure is what placing that widget first would add.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

OURS = "orangecontrib.neuralgene.widgets.owneuralgeneclassifier"
ORANGE_NN = "Orange.widgets.model.owneuralnetwork"
CANVAS_IMPORTS = ("Orange.canvas.__main__", "Orange.widgets.widget",
                  "Orange.widgets.utils.owlearnerwidget")
HEAVY = ("tensorflow", "keras")

CHILD = """
import json, sys, time
for name in {preload!r}:
    __import__(name)  # unlike importlib's, logged by -X importtime
before = set(sys.modules)
start = time.perf_counter()
__import__({module!r})
seconds = time.perf_counter() - start
print(json.dumps({{"seconds": seconds,
                  "heavy": [m for m in {heavy!r} if m in sys.modules],
                  "added": sorted(set(sys.modules) - before)}}))
"""


def import_in_fresh_interpreter(module, *options):
    code = CHILD.format(preload=CANVAS_IMPORTS, module=module, heavy=HEAVY)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, *options, "-c", code], env=env,
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout), out.stderr


def largest_imports(module, n=6):
    """The imports that dominate `module`'s import, from python -X importtime."""
    _, log = import_in_fresh_interpreter(module, "-X", "importtime")
    rows = []
    for line in log.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:"):].split("|")
        rows.append((int(cumulative_us), int(self_us), name.rstrip()))
    # the timed import is logged after every preloaded module
    start = next(i for i, row in enumerate(rows) if row[2].strip() == module)
    first = max(i for i, row in enumerate(rows[:start])
                if row[2].strip() in CANVAS_IMPORTS) + 1
    return sorted(rows[first:start + 1], reverse=True)[:n]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    times = {OURS: [], ORANGE_NN: []}
    heavy, added = set(), {}
    for _ in range(args.repeats):
        for module in times:
            result, _ = import_in_fresh_interpreter(module)
            times[module].append(result["seconds"])
            added[module] = set(result["added"])
            if module == OURS:
                heavy.update(result["heavy"])
    ours = statistics.median(times[OURS])
    peer = statistics.median(times[ORANGE_NN])
    print(f"Widget module import after the canvas's own imports "
          f"(median of {args.repeats} fresh interpreters)")
    print(f"  Neural Gene Classifier widget   {ours:7.3f} s  "
          f"(min {min(times[OURS]):.3f}, max {max(times[OURS]):.3f})")
    print(f"  Orange Neural Network widget    {peer:7.3f} s  "
          f"(min {min(times[ORANGE_NN]):.3f}, max {max(times[ORANGE_NN]):.3f})")
    print(f"  difference (ours - Orange's)    {ours - peer:+7.3f} s  "
          f"(target <= +0.300 s: {'met' if ours - peer <= 0.3 else 'MISSED'})")
    print(f"  TensorFlow/Keras imported with ours: "
          f"{', '.join(sorted(heavy)) if heavy else 'no'}")
    extra = sorted(name for name in added[OURS] - added[ORANGE_NN]
                   if not name.startswith("orangecontrib"))
    print(f"  other modules ours imports and Orange's does not: "
          f"{', '.join(extra) or 'none'}")
    print("  largest imports under ours (python -X importtime, one run):")
    for cumulative_us, self_us, name in largest_imports(OURS):
        print(f"    {cumulative_us / 1e3:7.1f} ms cumulative "
              f"{self_us / 1e3:7.1f} ms self  {name.strip()}")


if __name__ == "__main__":
    main()
