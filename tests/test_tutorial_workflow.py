"""The tutorial workflow opens, runs to the end, and is listed under Help > Examples."""
import os
import unittest
from unittest import mock

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# pylint: disable=wrong-import-position
import numpy as np

from AnyQt.QtTest import QTest

from orangecanvas.application import examples
from orangecanvas.registry import WidgetRegistry
from orangecanvas.scheme import SchemeNode
from orangecanvas.scheme.node import UserMessage
from orangecanvas.scheme.readwrite import parse_ows_stream
from orangewidget.settings import SettingsHandler
from orangewidget.workflow.widgetsscheme import WidgetsScheme

from Orange.canvas.config import Config
from Orange.widgets.tests.base import GuiTest

from orangecontrib.neuralgene import tutorials

WORKFLOW = os.path.join(os.path.dirname(tutorials.__file__),
                        "classify-tumours.ows")
CLASSIFIER = "Neural Gene Classifier"

BUSY = SchemeNode.Running | SchemeNode.Pending | SchemeNode.Invalidated
POLL_MS = 50
# Generous bound on the number of polls, not a speed requirement
MAX_POLLS = 20 * 60 * 1000 // POLL_MS
IDLE_POLLS = 20


def widget_registry():
    discovery = Config.widget_discovery(WidgetRegistry())
    discovery.run(Config.widgets_entry_points())
    return discovery.registry


def is_busy(scheme):
    manager = scheme.signal_manager
    return (manager.has_pending()
            or manager.runtime_state() == manager.Processing
            or any(node.state() & BUSY for node in scheme.nodes))


def run_until_idle(scheme):
    """Process events until no widget has had work for IDLE_POLLS polls."""
    idle = 0
    for _ in range(MAX_POLLS):
        QTest.qWait(POLL_MS)
        idle = 0 if is_busy(scheme) else idle + 1
        if idle == IDLE_POLLS:
            return True
    return False


class TestTutorialIsListed(unittest.TestCase):
    def test_examples_entry_point_names_our_package(self):
        modules = [ep.value for ep in Config.examples_entry_points()]
        self.assertIn(tutorials.__name__, modules)

    def test_help_examples_lists_the_workflow(self):
        paths = [example.abspath()
                 for example in examples.workflows(Config())]
        self.assertIn(os.path.realpath(WORKFLOW),
                      [os.path.realpath(path) for path in paths])

    def test_workflow_has_title_and_description(self):
        with open(WORKFLOW, "rb") as stream:
            workflow = parse_ows_stream(stream)
        self.assertTrue(workflow.title)
        self.assertTrue(workflow.description)


class TestTutorialRuns(GuiTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Widgets save their settings as defaults when deleted; keep the
        # user's Orange settings untouched
        cls.tear_down_stack.enter_context(
            mock.patch.object(SettingsHandler, "write_defaults"))
        cls.scheme = WidgetsScheme()
        cls.scheme.widget_manager.set_creation_policy(
            cls.scheme.widget_manager.Immediate)
        # As the canvas does when it opens a file, so File finds the data
        cls.scheme.set_runtime_env(
            "basedir", os.path.abspath(os.path.dirname(WORKFLOW)))
        errors = []
        with open(WORKFLOW, "rb") as stream:
            cls.scheme.load_from(stream, registry=widget_registry(),
                                 error_handler=errors.append)
        cls.load_errors = errors
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

    def test_loads_every_node_and_link(self):
        self.assertEqual(self.load_errors, [])
        self.assertEqual(len(self.scheme.nodes), 10)

    def test_all_widgets_finish(self):
        self.assertTrue(self.finished, "widgets still busy after the bound")

    def test_no_widget_shows_an_error(self):
        errors = {
            node.title: [message.contents for message in node.state_messages()
                         if message.severity == UserMessage.Error
                         and message.contents]
            for node in self.scheme.nodes}
        self.assertEqual({title: msgs for title, msgs in errors.items()
                          if msgs}, {})

    def test_file_widgets_read_the_shipped_khan_data(self):
        self.assertEqual(len(self.widget("Khan training samples").data), 63)
        self.assertEqual(len(self.widget("Khan test samples").data), 20)

    def test_test_and_score_shows_accuracy_of_the_classifier(self):
        model = self.widget("Test & Score").score_table.model
        header = [model.horizontalHeaderItem(column).text()
                  for column in range(model.columnCount())]
        rows = {model.item(row, 0).text(): row
                for row in range(model.rowCount())}
        self.assertIn(CLASSIFIER, rows)
        accuracy = model.item(rows[CLASSIFIER], header.index("CA")).data(0)
        self.assertIsInstance(accuracy, float)
        self.assertGreaterEqual(accuracy, 0)
        self.assertLessEqual(accuracy, 1)

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


if __name__ == "__main__":
    unittest.main()
