"""Orange3-NeuralGene: neural network classification of gene expression."""
from orangecontrib.neuralgene.learner import (
    NeuralGeneClassifierLearner, NeuralGeneClassifierModel)

__all__ = ["NeuralGeneClassifierLearner", "NeuralGeneClassifierModel"]
