# pylint: disable=missing-docstring
import unittest

import numpy as np

from Orange.data import ContinuousVariable, DiscreteVariable, Domain, Table
from Orange.preprocess.score import LearnerScorer

from orangecontrib.neuralgene import NeuralGeneClassifierLearner
from orangecontrib.neuralgene.importance import (
    gene_importance, gene_importance_table)
from orangecontrib.neuralgene.training_history import training_history_table
from tests.helpers import QUICK_MANUAL, expression_table


def planted_signal(n_samples=120, n_genes=2000, n_classes=4, n_carriers=20,
                   shift=2.0, seed=0):
    """Noise with the class carried by `n_carriers` genes at random places:
    each class raises its own share of them by `shift` standard deviations.
    Returns the table and the indices of the carriers."""
    data = expression_table(n_samples, n_genes, n_classes,
                            n_carriers // n_classes, seed, shift)
    order = np.random.RandomState(seed).permutation(n_genes)
    shuffled = data.transform(Domain(
        [data.domain.attributes[i] for i in order], data.domain.class_var))
    # the carriers, genes 0 … n_carriers - 1, where the shuffle put them
    return shuffled, np.flatnonzero(order < n_carriers)


def small_table():
    """40 samples of two classes, each carried by one of 10 genes."""
    return expression_table(n_samples=40, n_genes=10, n_classes=2,
                            informative=1)


class TestLearnerIsAScorer(unittest.TestCase):
    def test_is_an_orange_learner_scorer_for_categorical_targets(self):
        learner = NeuralGeneClassifierLearner()
        self.assertIsInstance(learner, LearnerScorer)
        self.assertIs(learner.class_type, DiscreteVariable)

    def test_planted_genes_top_the_ranking(self):
        data, carriers = planted_signal()
        scores = NeuralGeneClassifierLearner().score_data(data)
        self.assertEqual(scores.shape, (1, 2000))
        top_20 = np.argsort(-scores[0])[:20]
        self.assertGreaterEqual(len(np.intersect1d(top_20, carriers)), 18)

    def test_genes_left_out_by_selection_score_zero(self):
        data = small_table()
        learner = NeuralGeneClassifierLearner(n_genes=3, **QUICK_MANUAL)
        model = learner(data)
        scores = learner.score_data(data)[0]
        left_out = np.setdiff1d(np.arange(10), model.selected_genes)
        self.assertEqual(len(left_out), 7)
        np.testing.assert_array_equal(scores[left_out], 0)
        self.assertTrue(np.all(scores[model.selected_genes] > 0))

    def test_categorical_column_is_scored_once(self):
        data = small_table()
        colour = DiscreteVariable("colour", ["red", "green", "blue"])
        domain = Domain(data.domain.attributes + (colour,),
                        data.domain.class_var)
        with_colour = Table.from_numpy(
            domain, np.column_stack([data.X, np.arange(len(data)) % 3]),
            data.Y)
        scores = NeuralGeneClassifierLearner().score_data(with_colour)
        self.assertEqual(scores.shape, (1, 11))
        self.assertTrue(np.all(np.isfinite(scores)))


class TestGeneImportanceTable(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        data = small_table()
        genes = [ContinuousVariable(var.name) for var in data.domain.attributes]
        for i, gene in enumerate(genes):
            gene.attributes["Entrez ID"] = str(1000 + i)
        cls.data = Table.from_numpy(
            Domain(genes, data.domain.class_var), data.X, data.Y)
        # five genes left out, which still have their rows
        cls.model = NeuralGeneClassifierLearner(
            n_genes=5, **QUICK_MANUAL)(cls.data)
        cls.table = gene_importance_table(
            gene_importance(cls.model, cls.data))

    def test_one_row_per_gene_with_overall_and_per_class_columns(self):
        self.assertEqual(len(self.table), 10)
        self.assertEqual([var.name for var in self.table.domain.attributes],
                         ["Importance", "type0", "type1"])
        np.testing.assert_allclose(self.table.X[:, 0],
                                   self.table.X[:, 1:].mean(axis=1))

    def test_most_important_gene_comes_first(self):
        overall = self.table.X[:, 0]
        np.testing.assert_array_equal(overall, np.sort(overall)[::-1])

    def test_gene_names_and_annotations_are_meta_columns(self):
        metas = self.table.domain.metas
        self.assertEqual([var.name for var in metas], ["Gene", "Entrez ID"])
        for name, entrez in self.table.metas:
            self.assertEqual(int(entrez) - 1000, int(name[len("gene"):]))

    def test_classes_the_model_never_saw_have_missing_importance(self):
        two_of_three = DiscreteVariable("tumour", ["type0", "type1", "type2"])
        data = Table.from_numpy(
            Domain(self.data.domain.attributes, two_of_three),
            self.data.X, self.data.Y)
        model = NeuralGeneClassifierLearner()(data)
        table = gene_importance_table(gene_importance(model, data))
        self.assertTrue(np.isnan(table.get_column("type2")).all())
        self.assertFalse(np.isnan(table.get_column("Importance")).any())


class TestTrainingHistoryTable(unittest.TestCase):
    def test_one_row_per_epoch_with_every_metric(self):
        history = {"loss": [0.9, 0.5, 0.4], "accuracy": [0.5, 0.7, 0.8],
                   "val_loss": [1.0, 0.7, 0.8],
                   "val_accuracy": [0.4, 0.6, 0.6]}
        table = training_history_table(history)
        self.assertEqual(
            [var.name for var in table.domain.attributes],
            ["Epoch", "Training loss", "Training accuracy",
             "Validation loss", "Validation accuracy"])
        np.testing.assert_array_equal(table.get_column("Epoch"), [1, 2, 3])
        np.testing.assert_array_equal(table.get_column("Validation loss"),
                                      history["val_loss"])

    def test_without_validation_only_training_columns(self):
        table = training_history_table({"loss": [0.9], "accuracy": [0.5]})
        self.assertEqual([var.name for var in table.domain.attributes],
                         ["Epoch", "Training loss", "Training accuracy"])
        self.assertEqual(len(table), 1)


if __name__ == "__main__":
    unittest.main()
