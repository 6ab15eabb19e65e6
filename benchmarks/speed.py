"""10-fold cross-validation wall time on all 83 Khan samples (2308 genes):
the classifier with its defaults against Orange's Neural Network with its
defaults, in the same process; prints both times, accuracies and the ratio.

    python benchmarks/speed.py [--repeats N]

TensorFlow is imported before timing (as Orange's canvas has it imported
after the first fit); the classifier's first fold still pays for building
and tracing its network.
"""
import argparse
import time

from Orange.classification import NNClassificationLearner
from Orange.evaluation import CA, CrossValidation

from common import khan_all
from orangecontrib.neuralgene import NeuralGeneClassifierLearner
from orangecontrib.neuralgene.tensorflow_startup import import_keras


def time_cross_validation(learner, data):
    start = time.perf_counter()
    results = CrossValidation(k=10, random_state=0)(data, [learner])
    return time.perf_counter() - start, CA(results)[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    data = khan_all()
    import_keras()
    print(f"10-fold CV on Khan SRBCT: {len(data)} samples, "
          f"{len(data.domain.attributes)} genes")
    for repeat in range(args.repeats):
        ours, ours_ca = time_cross_validation(
            NeuralGeneClassifierLearner(), data)
        peer, peer_ca = time_cross_validation(
            NNClassificationLearner(), data)
        print(f"  run {repeat + 1}: Neural Gene Classifier {ours:6.2f} s "
              f"(CA {ours_ca:.3f})   Orange Neural Network {peer:6.2f} s "
              f"(CA {peer_ca:.3f})   ratio {ours / peer:.2f}")


if __name__ == "__main__":
    main()
