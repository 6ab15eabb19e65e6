"""Data loading shared by the benchmark scripts."""
import os
import sys
import warnings

from Orange.data import Table

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from orangecontrib.neuralgene.datasets import path  # noqa: E402

# scikit-learn's deprecation chatter from Orange's wrappers is not a result
warnings.filterwarnings("ignore", category=FutureWarning)
warnings.filterwarnings("ignore", category=DeprecationWarning)


def khan_train_test():
    return (Table(path("khan-srbct-train.tab.gz")),
            Table(path("khan-srbct-test.tab.gz")))


def khan_all():
    train, test = khan_train_test()
    return Table.concatenate([train, test])
