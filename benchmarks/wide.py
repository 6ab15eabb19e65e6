"""Wide-data throughput: 2000 samples x 20,000 genes, 10 classes, one hidden
layer of 256, 10 epochs, batch 64, all genes, no early stopping. The
classifier against scikit-learn's MLPClassifier at the same settings, and
against this machine's float32 matrix-multiply peak measured with numpy in
the same run (6 x samples x epochs x weights FLOPs for training).

    python benchmarks/wide.py [--samples N] [--genes N] [--repeats N]

The first run includes tracing and compiling the training graph, as the
first fit of a session does.
"""
import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from Orange.data import ContinuousVariable, DiscreteVariable, Domain, Table

import common  # noqa: F401  (puts the add-on on the path)
from orangecontrib.neuralgene import NeuralGeneClassifierLearner
from orangecontrib.neuralgene.tensorflow_startup import import_keras

HIDDEN, EPOCHS, BATCH, CLASSES = 256, 10, 64, 10


def synthetic_expression(n_samples, n_genes, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n_samples) % CLASSES
    X = rng.standard_normal((n_samples, n_genes), dtype=np.float32)
    X[:, :CLASSES * 20] += np.repeat(np.eye(CLASSES, dtype=np.float32),
                                     20, axis=1)[y]
    return X, y


def matmul_peak_gflops(n=2048, repeats=5):
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    a @ a
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--genes", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    X, y = synthetic_expression(args.samples, args.genes)
    domain = Domain(
        [ContinuousVariable(f"gene{i}") for i in range(args.genes)],
        DiscreteVariable("class", [f"c{i}" for i in range(CLASSES)]))
    table = Table.from_numpy(domain, X, y.astype(float))
    n_weights = args.genes * HIDDEN + HIDDEN + HIDDEN * CLASSES + CLASSES
    flops = 6 * args.samples * EPOCHS * n_weights
    import_keras()

    peak = matmul_peak_gflops()
    print(f"Wide data: {args.samples} samples x {args.genes} genes, "
          f"{CLASSES} classes, hidden {HIDDEN}, {EPOCHS} epochs, "
          f"batch {BATCH}")
    print(f"  numpy float32 matmul peak     {peak:8.1f} GFLOP/s")
    for repeat in range(args.repeats):
        ours, peer = time_both(table, X, y)
        if args.repeats > 1:
            print(f"  run {repeat + 1}" + (
                " (TensorFlow graph traced in this run)" if not repeat
                else " (graph traced in run 1 reused)"))
        print(f"  Neural Gene Classifier        {ours:8.2f} s  "
              f"{flops / ours / 1e9:8.1f} GFLOP/s  "
              f"({100 * flops / ours / 1e9 / peak:.0f}% of peak, whole fit)")
        print(f"  scikit-learn MLPClassifier    {peer:8.2f} s  "
              f"{flops / peer / 1e9:8.1f} GFLOP/s")
        print(f"  ratio (ours / MLPClassifier)  {ours / peer:8.2f}")


def time_both(table, X, y):
    # one network with manual settings, as this benchmark has always timed
    learner = NeuralGeneClassifierLearner(
        auto=False, ensemble_size=1, hidden_layers=(HIDDEN,), epochs=EPOCHS,
        batch_size=BATCH, early_stopping=False, n_genes=None)
    start = time.perf_counter()
    learner(table)
    ours = time.perf_counter() - start

    mlp = MLPClassifier(hidden_layer_sizes=(HIDDEN,), max_iter=EPOCHS,
                        batch_size=BATCH, early_stopping=False,
                        random_state=0)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X, y)
    return ours, time.perf_counter() - start


if __name__ == "__main__":
    main()
