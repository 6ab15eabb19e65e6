"""How the automatic choice's rules were compared: for each outer fold of
5-fold stratified CV (the panel's folds), inner cross-validation runs once
and each ensemble rule (the best 1, 3 or 5 candidates by inner log loss,
the best 1 or 3 by inner accuracy, all candidates) trains its ensemble from
it; prints CA / log loss per rule. Constants of ``model_selection`` can be
set for a run, e.g. a learning rate:

    python benchmarks/ensemble_rules.py nutrimouse,nki70 \
        "LEARNING_RATE_FOR_ONE_GENE=0.05"
"""
import os
import sys
import time

import numpy as np
from sklearn.metrics import log_loss

from Orange.evaluation import CrossValidation

from panel import REPO_ROOT, SET_NAMES, load_set, warm_up_tensorflow
import orangecontrib.neuralgene.model_selection as model_selection
from orangecontrib.neuralgene import NeuralGeneClassifierLearner


def by_log_loss(scores):
    return sorted(scores, key=lambda s: s.log_loss)


def by_accuracy(scores):
    return sorted(scores, key=lambda s: (-round(s.accuracy, 6), s.log_loss))


RULES = {
    "loss top 1": lambda scores: by_log_loss(scores)[:1],
    "loss top 3": lambda scores: by_log_loss(scores)[:3],
    "loss top 5": lambda scores: by_log_loss(scores)[:5],
    "CA top 1": lambda scores: by_accuracy(scores)[:1],
    "CA top 3": lambda scores: by_accuracy(scores)[:3],
    "all": list,
}


class OneInnerCrossValidation:
    """Stands in for model_selection's inner cross-validation: runs it once
    per training set and marks the candidates of the rule in force."""

    def __init__(self):
        self.run = model_selection.inner_cross_validation
        self.last_key = self.selection = self.trained = None
        self.rule = None

    def __call__(self, X, y, *args, **kwargs):
        key = (X.shape, hash(X[:, :50].tobytes()), hash(y.tobytes()))
        if key != self.last_key:
            self.last_key = key
            self.selection, self.trained = self.run(X, y, *args, **kwargs)
        for score in self.selection.scores:
            score.chosen = False
        for score in self.rule(self.selection.scores):
            score.chosen = True
        return self.selection, self.trained


def main():
    parts = sys.argv[1].split(",") if len(sys.argv) > 1 else [""]
    variant = sys.argv[2] if len(sys.argv) > 2 else ""
    for assignment in filter(None, variant.split(";")):
        name, value = assignment.split("=")
        setattr(model_selection, name.strip(), float(value))
    inner = OneInnerCrossValidation()
    model_selection.inner_cross_validation = inner
    warm_up_tensorflow()
    panel_dir = os.path.join(REPO_ROOT, "..", "shared", "data", "panel")
    for set_name in [n for n in SET_NAMES if any(p in n for p in parts)]:
        data = load_set(set_name, panel_dir)
        if data is None:
            continue
        start = time.perf_counter()
        predictions = {rule: [] for rule in RULES}
        for train, test in CrossValidation(
                k=5, stratified=True, random_state=0).get_indices(data):
            for rule_name, rule in RULES.items():
                inner.rule = rule
                model = NeuralGeneClassifierLearner()(data[train])
                predictions[rule_name].append(
                    (data[test].Y, model(data[test], model.Probs)))
        cells = []
        for rule_name, parts_ in predictions.items():
            Y = np.concatenate([y for y, _ in parts_])
            P = np.concatenate([p for _, p in parts_])
            cells.append(f"{rule_name} {np.mean(P.argmax(1) == Y):.3f}/"
                         f"{log_loss(Y, P, labels=range(P.shape[1])):.3f}")
        print(f"{set_name:30} {variant:28} {'  '.join(cells)}  "
              f"({time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
