"""The widget's Gene Importance and Training History outputs, and its learner
as a scorer in Orange's own Rank widget."""
# pylint: disable=missing-docstring
import numpy as np

from AnyQt.QtCore import Qt

from Orange.data import Table
from Orange.preprocess.score import LearnerScorer
from Orange.widgets.data.owrank import OWRank
from Orange.widgets.tests.base import WidgetTest

from orangecontrib.neuralgene.widgets.owneuralgeneclassifier import (
    OWNeuralGeneClassifier)
from tests.widget_testing import QUICK, WAIT, NeuralGeneWidgetTest


class TestGeneImportanceOutputs(NeuralGeneWidgetTest):
    def test_both_outputs_are_connected_on_purpose_only(self):
        self.assertTrue(self.widget.Outputs.gene_importance.explicit)
        self.assertTrue(self.widget.Outputs.training_history.explicit)

    def test_gene_importance_lists_every_gene_most_important_first(self):
        self.train(self.iris)
        table = self.get_output(self.widget.Outputs.gene_importance)
        self.assertEqual(sorted(table.get_column("Gene")),
                         sorted(var.name for var in self.iris.domain.attributes))
        self.assertEqual([var.name for var in table.domain.attributes],
                         ["Importance"] + list(self.iris.domain.class_var.values))
        overall = table.get_column("Importance")
        np.testing.assert_array_equal(overall, np.sort(overall)[::-1])

    def test_training_history_has_one_row_per_trained_epoch(self):
        model = self.train(self.iris)
        table = self.get_output(self.widget.Outputs.training_history)
        self.assertEqual(len(table), model.n_epochs_trained)
        np.testing.assert_array_equal(table.get_column("Training loss"),
                                      model.history["loss"])

    def test_no_model_no_outputs(self):
        self.train(self.iris)
        self.send_signal(self.widget.Inputs.data, None)
        self.assertIsNone(self.get_output(self.widget.Outputs.gene_importance))
        self.assertIsNone(self.get_output(self.widget.Outputs.training_history))

    def test_failed_training_leaves_no_outputs(self):
        self.train(self.iris)
        self.train(self.iris[:10])  # one class only
        self.assertTrue(self.widget.Error.fitting_failed.is_shown())
        self.assertIsNone(self.get_output(self.widget.Outputs.gene_importance))
        self.assertIsNone(self.get_output(self.widget.Outputs.training_history))


class TestRankScoresWithTheClassifier(WidgetTest):
    def test_rank_ranks_genes_by_the_widgets_learner(self):
        classifier = self.create_widget(
            OWNeuralGeneClassifier, stored_settings=QUICK)
        learner = self.get_output(classifier.Outputs.learner, widget=classifier)
        self.assertIsInstance(learner, LearnerScorer)

        rank = self.create_widget(OWRank)
        iris = Table("iris")
        self.send_signal(rank.Inputs.scorer, learner, 1, widget=rank)
        self.send_signal(rank.Inputs.data, iris, widget=rank)
        self.wait_until_finished(widget=rank, timeout=WAIT)

        model = rank.ranksModel
        header = [model.headerData(column, Qt.Orientation.Horizontal)
                  for column in range(model.columnCount())]
        self.assertIn("Neural Gene Classifier", header)
        column = header.index("Neural Gene Classifier")
        scores = [model.index(row, column).data(Qt.ItemDataRole.EditRole)
                  for row in range(model.rowCount())]
        self.assertEqual(len(scores), 4)
        self.assertTrue(all(np.isfinite(scores)))
        self.assertTrue(all(score >= 0 for score in scores))
        self.assertGreater(max(scores), 0)
        self.assertFalse(rank.Error.active)
