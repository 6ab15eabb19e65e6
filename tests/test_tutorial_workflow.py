"""The tutorial workflows open, run to the end, and are listed under Help > Examples."""
import ast
import os
import unittest
from unittest import mock

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# pylint: disable=wrong-import-position
import numpy as np

from AnyQt.QtCore import Qt
from AnyQt.QtTest import QTest

from orangecanvas.application import examples
from orangecanvas.scheme.node import UserMessage
from orangecanvas.scheme.readwrite import parse_ows_stream
from orangewidget.settings import SettingsHandler

from Orange.canvas.config import Config
from Orange.widgets.tests.base import GuiTest

from orangecontrib.neuralgene import tutorials
from orangecontrib.neuralgene.tutorials.headless import (
    at_their_defaults, default_settings, load_workflow, run_until_idle,
    widget_registry, widgets_at_their_defaults)
from orangecontrib.neuralgene.widgets.owneuralgeneclassifier import (
    OWNeuralGeneClassifier)

WORKFLOW = os.path.join(os.path.dirname(tutorials.__file__),
                        "classify-tumours.ows")
GENE_RANKING_WORKFLOW = os.path.join(os.path.dirname(tutorials.__file__),
                                     "rank-genes.ows")
WORKFLOWS = (WORKFLOW, GENE_RANKING_WORKFLOW)
CLASSIFIER = "Neural Gene Classifier"


def classifier_defaults():
    return default_settings(OWNeuralGeneClassifier)


class TestTutorialIsListed(unittest.TestCase):
    def test_examples_entry_point_names_our_package(self):
        modules = [ep.value for ep in Config.examples_entry_points()]
        self.assertIn(tutorials.__name__, modules)

    def test_help_examples_lists_the_workflows(self):
        paths = [os.path.realpath(example.abspath())
                 for example in examples.workflows(Config())]
        for workflow in WORKFLOWS:
            self.assertIn(os.path.realpath(workflow), paths)

    def test_workflows_store_every_setting_of_the_classifier(self):
        # a node without them would take those last used in the user's
        # widget, and the tutorial would train by hand for whoever last did
        for path in WORKFLOWS:
            with open(path, "rb") as stream:
                workflow = parse_ows_stream(stream)
            node, = [node for node in workflow.nodes
                     if node.title == CLASSIFIER]
            self.assertEqual(node.data.format, "literal", path)
            stored = ast.literal_eval(node.data.data)
            self.assertEqual(
                {name: stored.get(name) for name in classifier_defaults()},
                classifier_defaults(), path)

    def test_workflows_have_title_and_description(self):
        for path in WORKFLOWS:
            with open(path, "rb") as stream:
                workflow = parse_ows_stream(stream)
            self.assertTrue(workflow.title, path)
            self.assertTrue(workflow.description, path)


class TestAtTheirDefaults(GuiTest):
    """New widgets made in the block take no notice of the settings last
    used (or saved on disk), which are kept."""
    LAST_USED = {"auto_settings": False, "epochs": 7}

    def new_widget(self):
        widget = OWNeuralGeneClassifier()
        self.addCleanup(widget.onDeleteWidget)
        return widget

    def test_last_used_settings_are_kept_for_later(self):
        handler = OWNeuralGeneClassifier.settingsHandler
        with mock.patch.object(handler, "defaults", dict(self.LAST_USED)), \
                mock.patch.object(SettingsHandler, "write_defaults"):
            with at_their_defaults([OWNeuralGeneClassifier]):
                self.assertEqual(handler.defaults, {})
                widget = self.new_widget()
            self.assertEqual(handler.defaults, self.LAST_USED)
            later = self.new_widget()
        self.assertTrue(widget.auto_settings)
        self.assertNotEqual(widget.epochs, 7)
        self.assertFalse(later.auto_settings)
        self.assertEqual(later.epochs, 7)


class WorkflowRun(GuiTest):
    """Opens WORKFLOW as the canvas does and runs it until all is idle."""
    WORKFLOW = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Widgets save their settings as defaults when deleted; keep the
        # user's Orange settings untouched
        cls.tear_down_stack.enter_context(
            mock.patch.object(SettingsHandler, "write_defaults"))
        registry = widget_registry()
        cls.tear_down_stack.enter_context(
            widgets_at_their_defaults(cls.WORKFLOW, registry))
        cls.load_errors = []
        cls.scheme = load_workflow(cls.WORKFLOW, registry, cls.load_errors)
        cls.finished = run_until_idle(cls.scheme)

    @classmethod
    def tearDownClass(cls):
        cls.scheme.clear()
        cls.scheme.deleteLater()
        QTest.qWait(0)
        super().tearDownClass()

    def widget(self, title):
        node, = [node for node in self.scheme.nodes if node.title == title]
        return self.scheme.widget_for_node(node)

    def assert_no_widget_shows_an_error(self):
        errors = {
            node.title: [message.contents for message in node.state_messages()
                         if message.severity == UserMessage.Error
                         and message.contents]
            for node in self.scheme.nodes}
        self.assertEqual({title: msgs for title, msgs in errors.items()
                          if msgs}, {})


class TestTutorialRuns(WorkflowRun):
    WORKFLOW = WORKFLOW

    def test_loads_every_node_and_link(self):
        self.assertEqual(self.load_errors, [])
        self.assertEqual(len(self.scheme.nodes), 10)

    def test_all_widgets_finish(self):
        self.assertTrue(self.finished, "widgets still busy after the bound")

    def test_no_widget_shows_an_error(self):
        self.assert_no_widget_shows_an_error()

    def test_classifier_makes_the_automatic_choice_of_a_new_widget(self):
        widget = self.widget(CLASSIFIER)
        self.assertEqual({name: getattr(widget, name)
                          for name in classifier_defaults()},
                         classifier_defaults())
        self.assertTrue(widget.model.selection.scores)

    def test_file_widgets_read_the_shipped_khan_data(self):
        self.assertEqual(len(self.widget("Khan training samples").data), 63)
        self.assertEqual(len(self.widget("Khan test samples").data), 20)

    def classifier_results(self):
        """Test & Score's cross-validation results of the classifier."""
        slots = [slot for slot in self.widget("Test & Score").learners.values()
                 if slot.learner.name == CLASSIFIER]
        self.assertEqual(len(slots), 1)
        self.assertTrue(slots[0].results.success)
        return slots[0].results.value

    def test_test_and_score_shows_accuracy_of_the_classifier(self):
        model = self.widget("Test & Score").score_table.model
        header = [model.horizontalHeaderItem(column).text()
                  for column in range(model.columnCount())]
        rows = {model.item(row, 0).text(): row
                for row in range(model.rowCount())}
        self.assertIn(CLASSIFIER, rows)
        accuracy = model.item(rows[CLASSIFIER], header.index("CA")).data(0)
        results = self.classifier_results()
        self.assertAlmostEqual(
            accuracy, np.mean(results.predicted[0] == results.actual))
        # the four tumour types told apart, as by the paper's own networks;
        # always naming the largest type would be right a third of the time
        self.assertGreater(accuracy, 0.8)

    def test_cross_validated_probabilities_favour_the_true_type(self):
        results = self.classifier_results()
        probs = results.probabilities[0]
        self.assertEqual(probs.shape, (len(results.actual), 4))
        self.assertTrue(np.all(np.isfinite(probs)))
        np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-6)
        true_type = probs[np.arange(len(probs)), results.actual.astype(int)]
        self.assertGreater(np.mean(true_type), 0.6)  # chance: 0.25

    def test_predictions_filled_for_held_out_samples(self):
        n_scored = len(self.widget("Test & Score").data)
        self.assert_predictions_filled(
            "Predictions (held-out samples)", 63 - n_scored)

    def test_predictions_filled_for_published_test_set(self):
        self.assert_predictions_filled("Predictions (published test set)", 20)

    def assert_predictions_filled(self, title, n_rows):
        widget = self.widget(title)
        self.assertGreater(n_rows, 0)
        self.assertEqual(len(widget.data), n_rows)
        names = [slot.predictor.name for slot in widget.predictors]
        self.assertIn(CLASSIFIER, names)
        self.assertEqual(len(names), 3)
        n_classes = len(widget.data.domain.class_var.values)
        for slot in widget.predictors:
            predicted = slot.results.predicted
            self.assertEqual(predicted.shape, (1, n_rows), slot.predictor.name)
            self.assertTrue(np.isin(predicted, np.arange(n_classes)).all(),
                            slot.predictor.name)


class TestGeneRankingTutorialRuns(WorkflowRun):
    WORKFLOW = GENE_RANKING_WORKFLOW
    N_TOP_GENES = 50

    def test_loads_every_node_and_link(self):
        self.assertEqual(self.load_errors, [])
        self.assertEqual(len(self.scheme.nodes), 5)
        self.assertEqual(len(self.scheme.links), 5)

    def test_all_widgets_finish(self):
        self.assertTrue(self.finished, "widgets still busy after the bound")

    def test_no_widget_shows_an_error(self):
        self.assert_no_widget_shows_an_error()

    def rank_column(self):
        """Rank's column for the classifier: its index and its scores."""
        model = self.widget("Rank").ranksModel
        header = [model.headerData(column, Qt.Orientation.Horizontal)
                  for column in range(model.columnCount())]
        self.assertIn(CLASSIFIER, header)
        column = header.index(CLASSIFIER)
        return column, [model.index(row, column).data(Qt.ItemDataRole.EditRole)
                        for row in range(model.rowCount())]

    def test_rank_scores_every_gene_with_the_classifier(self):
        _, scores = self.rank_column()
        self.assertEqual(len(scores), 2308)
        self.assertTrue(all(np.isfinite(score) and score >= 0
                            for score in scores))
        self.assertGreater(max(scores), 0)

    def test_rank_sorts_by_the_classifier(self):
        column, scores = self.rank_column()
        model = self.widget("Rank").ranksModel
        self.assertEqual(model.sortColumn(), column)
        self.assertEqual(scores, sorted(scores, reverse=True))

    def test_heat_map_gets_the_top_genes_of_the_classifier(self):
        rank = self.widget("Rank")
        top = rank.ranksModel.mapToSourceRows(range(self.N_TOP_GENES))
        top_genes = {rank.data.domain.attributes[i].name for i in top}
        heat_map_genes = {var.name for var in
                          self.widget("Heat Map").data.domain.attributes}
        self.assertEqual(heat_map_genes, top_genes)

    def test_data_table_shows_importance_of_every_gene(self):
        table = self.widget("Gene importance per tumour type").input.table
        self.assertEqual(len(table), 2308)
        self.assertEqual([var.name for var in table.domain.attributes],
                         ["Importance", "BL", "EWS", "NB", "RMS"])


if __name__ == "__main__":
    unittest.main()
