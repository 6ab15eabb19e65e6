"""Validation panel: stratified cross-validation on ten labelled expression
tables from independent sources (the eight in ../shared/data/panel, all 83
Khan samples, Orange's brown-selected); the classifier's defaults and its
0.1 defaults beside Orange's Logistic Regression, Neural Network and Random
Forest on the same folds. Prints CA, log loss and CV wall time per set and
learner, then a summary against the targets. The add-on's learners are fitted
once before any timing (its first fit in a process traces the training
graphs, once per Orange session); that fit's time is printed apart.

    python benchmarks/panel.py [--sets NAME ...] [--learners auto old lr nn rf]
                               [--folds K] [--panel-dir DIR] [--csv PATH]

The single-cell sets (up to 3005 samples) take many minutes each.
"""
import argparse
import csv
import os
import time
import warnings

import numpy as np

from Orange.classification import (LogisticRegressionLearner,
                                   NNClassificationLearner,
                                   RandomForestLearner)
from Orange.data import ContinuousVariable, DiscreteVariable, Domain, Table
from Orange.evaluation import CA, CrossValidation, LogLoss
from sklearn.exceptions import ConvergenceWarning

from common import khan_all
from orangecontrib.neuralgene import NeuralGeneClassifierLearner
from orangecontrib.neuralgene.learner import DEFAULT_PARAMETERS

# Orange's Neural Network and Logistic Regression stop at their iteration
# limits on some sets: with Orange's defaults that is part of the comparison
warnings.filterwarnings("ignore", category=ConvergenceWarning)

REPO_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
PANEL_FILES = ["nutrimouse_martin2007", "breast_bild2006_gse3143",
               "breast_sorlie2003_gse4335", "breast_nki70_vandevijver2002",
               "oligodendroglioma_tirosh2016", "mouse_cortex_zeisel2015",
               "cbmc_citeseq_stoeckius2017", "pbmc_ifnb_kang2018"]
SET_NAMES = PANEL_FILES + ["khan_srbct", "brown-selected"]
OLD_DEFAULTS = dict(auto=False, ensemble_size=1)
CSV_COLUMNS = ["set", "samples", "genes", "classes", "learner",
               "CA", "log loss", "seconds", "time / NN"]
ALLOWED_TIME_RATIO = 2.0
ALLOWED_CA_SHORTFALL = 0.02


def old_default_parameters():
    # 0.1 has neither keyword and always behaves as these values say
    return {name: value for name, value in OLD_DEFAULTS.items()
            if name in DEFAULT_PARAMETERS}


# Orange's three run first so that NGC auto's row can show its ratio to NN
LEARNERS = {
    "lr": ("Logistic Regression", LogisticRegressionLearner),
    "nn": ("Neural Network", NNClassificationLearner),
    "rf": ("Random Forest", lambda: RandomForestLearner(random_state=0)),
    "auto": ("NGC auto", NeuralGeneClassifierLearner),
    "old": ("NGC 0.1 defaults",
            lambda: NeuralGeneClassifierLearner(**old_default_parameters())),
}


def warm_up_tensorflow():
    """Import TensorFlow before any timing, as Orange's canvas has it
    imported after the first fit, through the add-on's start-up function."""
    try:
        from orangecontrib.neuralgene.tensorflow_startup import import_keras
    except ImportError:  # an older version of the add-on: a plain import
        import tensorflow  # noqa: F401
        return
    import_keras()


def warm_up_fits(keys):
    """Fit each of the add-on's learners once on a small random table,
    before any timing: the first fit of a process traces the training
    graphs (a second or two, once per Orange session), which would
    otherwise fall on whichever set comes first. Prints what it took."""
    rng = np.random.default_rng(0)
    data = Table.from_numpy(
        Domain([ContinuousVariable(f"g{i}") for i in range(60)],
               DiscreteVariable("y", ["a", "b", "c"])),
        rng.normal(size=(45, 60)), np.arange(45) % 3)
    for key in keys:
        if key in ("auto", "old"):
            name, make_learner = LEARNERS[key]
            start = time.perf_counter()
            make_learner()(data)
            first = time.perf_counter() - start
            start = time.perf_counter()
            make_learner()(data)
            print(f"{name}, first fit of the process {first:.1f} s, the same "
                  f"fit again {time.perf_counter() - start:.1f} s (random "
                  "45 x 60 table; not counted in the times below)")


def load_set(name, panel_dir):
    if name == "khan_srbct":
        return khan_all()
    if name == "brown-selected":
        return Table(name)
    file = os.path.join(panel_dir, name + ".tab.gz")
    return Table(file) if os.path.exists(file) else None


def fold_of_each_sample(results):
    fold = np.empty(len(results.row_indices), dtype=int)
    for index, test_rows in enumerate(results.folds):
        fold[results.row_indices[test_rows]] = index
    return fold


def evaluate_set(data, keys, n_folds):
    """A row per learner, yielded as soon as its cross-validation is timed;
    every learner's folds are checked against the first's."""
    first_folds = nn_seconds = None
    for key in keys:
        name, make_learner = LEARNERS[key]
        learner, start = make_learner(), time.perf_counter()
        results = CrossValidation(k=n_folds, stratified=True,
                                  random_state=0)(data, [learner])
        seconds = time.perf_counter() - start
        folds = fold_of_each_sample(results)
        first_folds = folds if first_folds is None else first_folds
        assert np.array_equal(folds, first_folds), "folds differ"
        if key == "nn":
            nn_seconds = seconds
        ratio = seconds / nn_seconds if key == "auto" and nn_seconds else None
        yield {"key": key, "learner": name, "CA": CA(results)[0],
               "log loss": LogLoss(results)[0], "seconds": seconds,
               "time / NN": ratio}


def print_summary(rows):
    sets = list(dict.fromkeys(row["set"] for row in rows))
    by = {(row["set"], row["key"]): row for row in rows}
    print(f"\nMean CA over {len(sets)} sets")
    for key, (name, _) in LEARNERS.items():
        cas = [by[s, key]["CA"] for s in sets if (s, key) in by]
        if cas:
            print(f"  {name:<20} {np.mean(cas):.3f}  ({len(cas)} sets)")
    if any((s, key) not in by
           for s in sets for key in ("auto", "lr", "nn", "rf")):
        print("(NGC auto against Orange needs auto, lr, nn and rf)")
        return
    auto = [by[s, "auto"] for s in sets]
    best = [max(by[s, key]["CA"] for key in ("lr", "nn", "rf")) for s in sets]
    near_best = sum(row["CA"] >= best_ca - ALLOWED_CA_SHORTFALL
                    for row, best_ca in zip(auto, best))
    mean_gain = np.mean([row["CA"] for row in auto]) - np.mean(best)
    loss_not_worse = sum(row["log loss"] <= by[s, "lr"]["log loss"]
                         for row, s in zip(auto, sets))
    worst_ratio = max(row["time / NN"] for row in auto)
    n = len(sets)
    print(f"\nNGC auto on {n} sets; best = the best CA of Orange's Logistic "
          f"Regression, Neural Network, Random Forest on that set")
    print(f"  CA >= best - {ALLOWED_CA_SHORTFALL}: {near_best}/{n} sets")
    print(f"  mean CA - mean best: {mean_gain:+.3f}")
    print(f"  log loss <= Logistic Regression's: {loss_not_worse}/{n} sets")
    print(f"  largest time / NN: {worst_ratio:.2f}")
    targets = [
        (f"every set CA >= best - {ALLOWED_CA_SHORTFALL}", near_best == n),
        ("mean CA >= mean best", mean_gain >= 0),
        ("log loss <= Logistic Regression's on most sets",
         loss_not_worse > n / 2),
        (f"every time / NN <= {ALLOWED_TIME_RATIO}",
         worst_ratio <= ALLOWED_TIME_RATIO)]
    for target, met in targets:
        print(f"  {'TARGET MET   ' if met else 'TARGET MISSED'}  {target}")


def parse_arguments():
    parser = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", metavar="NAME",
                        help="only sets whose name contains one of these")
    parser.add_argument("--learners", nargs="+", choices=list(LEARNERS),
                        default=list(LEARNERS))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--panel-dir", default=os.path.join(
        REPO_ROOT, "..", "shared", "data", "panel"))
    parser.add_argument("--csv", metavar="PATH",
                        help="also write every row to this CSV file")
    return parser.parse_args()


def main():
    args = parse_arguments()
    set_names = [name for name in SET_NAMES
                 if not args.sets or any(part in name for part in args.sets)]
    keys = [key for key in LEARNERS if key in args.learners]
    if "auto" in keys or "old" in keys:
        warm_up_tensorflow()
        warm_up_fits(keys)
    print(f"{args.folds}-fold stratified CV, the same folds for every learner")
    rows = []
    with open(args.csv or os.devnull, "w", newline="") as csv_file:
        writer = csv.DictWriter(csv_file, CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for set_name in set_names:
            data = load_set(set_name, args.panel_dir)
            if data is None:
                print(f"\n{set_name}: missing", flush=True)
                continue
            shape = dict(set=set_name, samples=len(data),
                         genes=len(data.domain.attributes),
                         classes=len(data.domain.class_var.values))
            print(f"\n{set_name}: {shape['samples']} samples x "
                  f"{shape['genes']} genes x {shape['classes']} classes",
                  flush=True)
            for row in evaluate_set(data, keys, args.folds):
                row.update(shape)
                rows.append(row)
                ratio = row["time / NN"]
                print(f"  {row['learner']:<20} CA {row['CA']:.3f}   log loss "
                      f"{row['log loss']:.3f}   {row['seconds']:7.1f} s"
                      + (f"   time / NN {ratio:.2f}" if ratio else ""),
                      flush=True)
                writer.writerow(row)
                csv_file.flush()
    print_summary(rows)


if __name__ == "__main__":
    main()
