"""Khan SRBCT holdout: train on the 63 training samples, classify the 20
published test samples; the classifier with its defaults beside Orange's
Logistic Regression and Neural Network.

    python benchmarks/accuracy.py
"""
import numpy as np

from Orange.classification import (LogisticRegressionLearner,
                                   NNClassificationLearner)

from common import khan_train_test
from orangecontrib.neuralgene import NeuralGeneClassifierLearner


def main():
    train, test = khan_train_test()
    learners = [NeuralGeneClassifierLearner(), LogisticRegressionLearner(),
                NNClassificationLearner(random_state=0)]
    print(f"Khan SRBCT holdout: {len(train)} training -> {len(test)} test "
          f"samples, {len(train.domain.attributes)} genes")
    for learner in learners:
        model = learner(train)
        predicted = model(test)
        right = int(np.sum(predicted == test.Y))
        wrong = [f"{test.domain.class_var.values[int(t)]}->"
                 f"{test.domain.class_var.values[int(p)]}"
                 for t, p in zip(test.Y, predicted) if t != p]
        print(f"  {learner.name:<24} {right:>2}/{len(test)} right"
              + (f"   misclassified: {', '.join(wrong)}" if wrong else ""))


if __name__ == "__main__":
    main()
