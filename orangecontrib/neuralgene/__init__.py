"""Orange3-NeuralGene: neural network classification of gene expression."""
from importlib.metadata import PackageNotFoundError, version

from orangecontrib.neuralgene.learner import (
    NeuralGeneClassifierLearner, NeuralGeneClassifierModel)

try:
    # the installed distribution's version, the one Orange's add-on dialog shows
    __version__ = version("Orange3-NeuralGene")
except PackageNotFoundError:  # imported from a source tree that is not installed
    __version__ = "unknown"

__all__ = ["NeuralGeneClassifierLearner", "NeuralGeneClassifierModel"]
