"""Peak memory of training on 10,000 samples x 20,000 genes (float32, 800 MB
of expression values), above the process's memory just before the fit.
Target: below 2.5 GB, i.e. no needless copies of the matrix.

    python benchmarks/memory.py [--samples N] [--genes N]

Memory is the resident set size sampled every 5 ms in a thread (Linux).
Orange keeps tables in float64, so the 800 MB of data sit in the table as
1.6 GB before the fit starts; that is the baseline.
"""
import argparse
import gc
import threading
import time

from Orange.data import ContinuousVariable, DiscreteVariable, Domain, Table

import common  # noqa: F401  (puts the add-on on the path)
from orangecontrib.neuralgene import NeuralGeneClassifierLearner
from orangecontrib.neuralgene.tensorflow_startup import import_keras
from wide import synthetic_expression, CLASSES

PAGE = 4096
GB = 1024 ** 3


def resident_bytes():
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * PAGE


class PeakSampler(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.peak = resident_bytes()
        self.running = True

    def run(self):
        while self.running:
            self.peak = max(self.peak, resident_bytes())
            time.sleep(0.005)


def peak_above_baseline(learner, table):
    gc.collect()
    baseline = resident_bytes()
    sampler = PeakSampler()
    sampler.start()
    learner(table)
    sampler.running = False
    sampler.join()
    return (sampler.peak - baseline) / GB


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=10000)
    parser.add_argument("--genes", type=int, default=20000)
    args = parser.parse_args()
    import_keras()
    X, y = synthetic_expression(args.samples, args.genes)
    data_gb = X.nbytes / GB
    domain = Domain(
        [ContinuousVariable(f"gene{i}") for i in range(args.genes)],
        DiscreteVariable("class", [f"c{i}" for i in range(CLASSES)]))
    table = Table.from_numpy(domain, X, y.astype(float))
    del X
    print(f"Training on {args.samples} x {args.genes} "
          f"({data_gb:.2f} GB as float32; the table holds "
          f"{table.X.nbytes / GB:.2f} GB as {table.X.dtype})")
    for label, n_genes in (("all genes", None), ("top 200 genes", 200)):
        learner = NeuralGeneClassifierLearner(
            auto=False, ensemble_size=1, hidden_layers=(256,), epochs=1,
            batch_size=64, n_genes=n_genes)
        peak = peak_above_baseline(learner, table)
        print(f"  {label:<14} peak {peak:5.2f} GB above baseline "
              f"({peak / data_gb:.1f}x the float32 data; target < 2.5 GB)")


if __name__ == "__main__":
    main()
