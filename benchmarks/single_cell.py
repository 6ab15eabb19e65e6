"""Single-cell scale (issue 12): sparse counts of 10,000 to 100,000 cells ×
20,000 genes, and the panel's largest single-cell sets stored sparse. For
each: fit time, peak memory above the loaded table and accuracy on
held-out cells, for this learner by hand (200 genes, 10 epochs, no early
stopping, one network) and with its defaults (the automatic choice),
beside Orange's Logistic Regression and CellTypist's mini-batch SGD, all
in this one process; each fit's time is also given as a multiple of
CellTypist's. On request (``--learners hand-all``), the learner by hand
with all genes, which it reads sparse a batch at a time.

    python benchmarks/single_cell.py [--cells N ...] [--genes N]
        [--learners hand hand-all auto lr celltypist] [--no-panel]
        [--dense] [--panel-dir DIR]

Synthetic sets: N training cells and N/4 held-out cells, ten cell types;
each cell has about 5% of the genes counted (1 + Poisson(1)) at random,
and its type's three marker genes counted Poisson(2) more. Panel sets: a
stratified fifth of the cells held out (seed 0).

Targets: by hand on 100,000 cells within 60 s and faster than CellTypist;
peak memory within 1 GB above the table; with --dense, the sparse fit by
hand within 1.2 times the fit of the same table dense; the defaults
within 5 minutes on 100,000 cells.

Memory is the resident set size (Linux /proc), sampled every 5 ms during
the fit, above its value just before the fit (taken after malloc_trim
hands freed heap memory back); unlike tracemalloc it counts TensorFlow's
memory. TensorFlow's import and its graphs' tracing are paid before the
timings, by fits on a small table and an untimed fit by hand on each set.

Orange's Logistic Regression runs without Orange's preprocessing, whose
imputation rebuilds a sparse table one gene at a time (the tables have no
missing values). CellTypist runs with ``with_mean=False``, its setting for
sparse data (its default makes the table dense: 16 GB at 100,000 cells),
and ``check_expression=False`` (the counts are not normalised to 10,000 a
cell); it is skipped, with a message, where it is not installed
(``pip install -e .[benchmarks]``).
"""
import argparse
import ctypes
import gc
import os
import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from Orange.classification import LogisticRegressionLearner
from Orange.data import ContinuousVariable, DiscreteVariable, Domain, Table

import common  # noqa: F401  (puts the add-on on the path)
from memory import GB, PeakSampler, resident_bytes
from orangecontrib.neuralgene import NeuralGeneClassifierLearner
from orangecontrib.neuralgene.tensorflow_startup import import_keras

warnings.filterwarnings("ignore", category=ConvergenceWarning)

PANEL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                         "..", "shared", "data", "panel")
# the panel's single-cell sets of more than a thousand cells
PANEL_SETS = ("mouse_cortex_zeisel2015", "pbmc_ifnb_kang2018",
              "cbmc_citeseq_stoeckius2017")
CELL_TYPES = 10
MARKERS = 3
DENSITY = 0.05
CELLS_AT_A_TIME = 10_000

BY_HAND = dict(auto=False, n_genes=200, epochs=10, early_stopping=False,
               ensemble_size=1)
BY_HAND_ALL_GENES = dict(BY_HAND, n_genes=None)


def synthetic_counts(n_cells, n_genes, seed):
    """Sparse counts and cell types 0..CELL_TYPES-1 (see the docstring)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(CELL_TYPES, size=n_cells)
    per_cell = int(DENSITY * n_genes)
    blocks = []
    for start in range(0, n_cells, CELLS_AT_A_TIME):
        types = y[start:start + CELLS_AT_A_TIME]
        n = len(types)
        background = sp.csr_matrix(
            (rng.poisson(1.0, n * per_cell) + 1.0,
             rng.integers(n_genes, size=n * per_cell, dtype=np.int32),
             np.arange(n + 1) * per_cell), shape=(n, n_genes))
        markers = sp.csr_matrix(
            (rng.poisson(2.0, n * MARKERS).astype(float),
             (np.repeat(np.arange(n), MARKERS),
              (types[:, None] * MARKERS + np.arange(MARKERS)).ravel())),
            shape=(n, n_genes))
        block = (background + markers).tocsr()
        block.eliminate_zeros()
        blocks.append(block)
    return sp.vstack(blocks, format="csr"), y


def synthetic_sets(n_cells, n_genes):
    X, y = synthetic_counts(n_cells + n_cells // 4, n_genes, seed=n_cells)
    domain = Domain(
        [ContinuousVariable(f"gene{i}") for i in range(n_genes)],
        DiscreteVariable("cell type", [f"type{c}" for c in range(CELL_TYPES)]))
    data = Table.from_numpy(domain, X, y.astype(float))
    return data[:n_cells], data[n_cells:]


def panel_sets(name, panel_dir):
    data = Table(os.path.join(panel_dir, name + ".tab.gz")).to_sparse()
    train, test = train_test_split(np.arange(len(data)), test_size=0.2,
                                   stratify=data.Y, random_state=0)
    return data[np.sort(train)], data[np.sort(test)]


def accuracy(predicted, test):
    return float(np.mean(np.asarray(predicted) == test.Y))


def neural_gene(parameters):
    def fit_and_score(train, test):
        model = NeuralGeneClassifierLearner(**parameters)(train)
        return lambda: accuracy(model(test), test)
    return fit_and_score


def logistic_regression(train, test):
    model = LogisticRegressionLearner(preprocessors=[])(train)
    return lambda: accuracy(model(test), test)


def celltypist_sgd(train, test):
    import celltypist

    names = np.array([var.name for var in train.domain.attributes])
    types = np.array(train.domain.class_var.values)
    model = celltypist.train(
        train.X, labels=types[train.Y.astype(int)], genes=names,
        use_SGD=True, mini_batch=True, epochs=10, with_mean=False,
        check_expression=False)

    def score():
        # scaled as celltypist.annotate scales, on the model's genes
        column = {name: i for i, name in enumerate(names)}
        genes = [column[name] for name in model.classifier.features]
        X = sp.csr_matrix(sp.csr_matrix(test.X)[:, genes].multiply(
            1 / model.scaler.scale_))
        X.data[X.data > 10] = 10
        index = {name: i for i, name in enumerate(types)}
        return accuracy([index[label] for label in
                         model.classifier.predict(X)], test)
    return score


def celltypist_installed():
    try:
        from celltypist import logger
    except ImportError:
        return False
    logger.set_level("WARNING")  # not a line per epoch
    return True


LEARNERS = {
    "hand": ("neural gene, by hand (200 genes)", neural_gene(BY_HAND)),
    "hand-all": ("neural gene, by hand (all genes)",
                 neural_gene(BY_HAND_ALL_GENES)),
    "auto": ("neural gene, defaults (automatic)", neural_gene({})),
    "lr": ("Orange Logistic Regression", logistic_regression),
    "celltypist": ("CellTypist mini-batch SGD", celltypist_sgd),
}


def measure(fit_and_score, train, test):
    """Seconds to fit, peak bytes above the memory before, accuracy."""
    gc.collect()
    _return_freed_memory()
    baseline = resident_bytes()
    sampler = PeakSampler()
    sampler.start()
    start = time.perf_counter()
    try:
        score = fit_and_score(train, test)
        seconds = time.perf_counter() - start
    finally:
        sampler.running = False
        sampler.join()
    return seconds, sampler.peak - baseline, score()


def _return_freed_memory():
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: freed memory may stay resident


def table_bytes(X):
    if sp.issparse(X):
        return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    return X.nbytes


def run_set(label, train, test, learners, dense):
    X = train.X
    print(f"\n{label}: {X.shape[0]:,} training cells × {X.shape[1]:,} genes, "
          f"{len(test):,} held out; {X.nnz / np.prod(X.shape):.1%} non-zero,"
          f" {table_bytes(X) / GB:.2f} GB sparse "
          f"({np.prod(X.shape) * 8 / GB:.2f} GB dense)")
    print(f"  {'':36} {'fit s':>8} {'× CellTypist':>13} "
          f"{'peak GB':>8} {'accuracy':>9}")
    rows = []
    for key in learners:
        name, fit_and_score = LEARNERS[key]
        if key == "celltypist" and not celltypist_installed():
            print(f"  {name:36} skipped: CellTypist is not installed "
                  "(pip install -e .[benchmarks])")
            continue
        if key.startswith("hand"):
            # the trainer of its network, built once a process for each
            # number of cell types, is not timed
            fit_and_score(train, test)
        rows.append((key, name, *measure(fit_and_score, train, test)))
        if key == "hand" and dense:
            dense_train = train.to_dense()
            rows.append(("dense", "  the same, the table dense",
                         *measure(fit_and_score, dense_train, test)))
            del dense_train
    reference = {key: seconds for key, _, seconds, _, _ in rows}
    for key, name, seconds, peak, score in rows:
        ratio = (f"{seconds / reference['celltypist']:13.2f}"
                 if "celltypist" in reference else f"{'-':>13}")
        print(f"  {name:36} {seconds:8.1f} {ratio} {peak / GB:8.2f} "
              f"{score:9.3f}")
    if "dense" in reference:
        print(f"  sparse / dense fit time by hand: "
              f"{reference['hand'] / reference['dense']:.2f} (target ≤ 1.2)")


def warm_up(learners):
    """TensorFlow's import and the graphs' tracing, paid once a process."""
    import_keras()
    train, test = synthetic_sets(200, 500)
    for key in learners:
        if key in ("hand", "auto"):
            LEARNERS[key][1](train, test)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--cells", type=int, nargs="+",
                        default=[10_000, 30_000, 100_000])
    parser.add_argument("--genes", type=int, default=20_000)
    parser.add_argument("--learners", nargs="+", choices=list(LEARNERS),
                        default=[key for key in LEARNERS if key != "hand-all"])
    parser.add_argument("--no-panel", action="store_true",
                        help="leave out the panel's single-cell sets")
    parser.add_argument("--dense", action="store_true",
                        help="also fit by hand on the training table dense")
    parser.add_argument("--panel-dir", default=PANEL_DIR)
    args = parser.parse_args()

    warm_up(args.learners)
    for n_cells in args.cells:
        train, test = synthetic_sets(n_cells, args.genes)
        run_set("synthetic counts", train, test, args.learners, args.dense)
    if not args.no_panel:
        for name in PANEL_SETS:
            train, test = panel_sets(name, args.panel_dir)
            run_set(name, train, test, args.learners, args.dense)


if __name__ == "__main__":
    main()
