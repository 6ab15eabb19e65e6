"""Khan SRBCT: do the genes the classifier calls most important carry the
signal? Train on the 63 training samples with the defaults, take the top 50
genes by gene importance, train the same learner on those 50 alone, and
classify the 20 published test samples with both; also time the importance
against the training. The top 50 by ANOVA alone are shown for comparison.

    python benchmarks/top_genes.py
"""
import time

import numpy as np

from Orange.data import Domain
from sklearn.feature_selection import f_classif

from common import khan_train_test
from orangecontrib.neuralgene import NeuralGeneClassifierLearner
from orangecontrib.neuralgene.importance import gene_importance

N_TOP = 50
SEEDS = (0, 1, 2, 3, 4)  # 0 is the learner's default


def n_right(learner, train, test, genes=None):
    if genes is not None:
        domain = Domain(genes, train.domain.class_var)
        train, test = train.transform(domain), test.transform(domain)
    return int(np.sum(learner(train)(test) == test.Y))


def main():
    train, test = khan_train_test()
    NeuralGeneClassifierLearner(epochs=1)(train)  # import TensorFlow untimed
    genes = train.domain.attributes
    by_anova = [genes[i] for i in
                np.argsort(-f_classif(train.X, train.Y)[0])[:N_TOP]]
    print(f"Khan SRBCT: {len(train)} training -> {len(test)} test samples, "
          f"{len(genes)} genes; right of {len(test)} test samples")
    print(f"{'seed':>4} {'all genes':>9} {'top 50':>6} {'ANOVA 50':>8} "
          f"{'training':>9} {'importance':>10}")
    for seed in SEEDS:
        learner = NeuralGeneClassifierLearner(random_state=seed)
        start = time.perf_counter()
        model = learner(train)
        trained = time.perf_counter()
        importance = gene_importance(model, train)
        measured = time.perf_counter()
        top = [importance.genes[i]
               for i in np.argsort(-importance.overall)[:N_TOP]]
        all_right = int(np.sum(model(test) == test.Y))
        print(f"{seed:>4} {all_right:>9} "
              f"{n_right(learner, train, test, top):>6} "
              f"{n_right(learner, train, test, by_anova):>8} "
              f"{trained - start:>8.2f}s {measured - trained:>9.3f}s")


if __name__ == "__main__":
    main()
