"""What the widget tests share: a widget that trains by hand in a few epochs
(or until stopped), with TensorFlow loaded before the first test and
generous waits for outputs, and a small table on which the automatic choice
is quick."""
from unittest import mock

from Orange.data import Table
from Orange.widgets.tests.base import WidgetTest

from orangecontrib.neuralgene.learner import NeuralGeneClassifierLearner
from orangecontrib.neuralgene.widgets.owneuralgeneclassifier import (
    OWNeuralGeneClassifier)
from tests.helpers import expression_table

WAIT = 60000  # ms; generous, so a slow machine does not fail the tests
# settings by hand, one network of a few epochs
QUICK = {"auto_apply": False, "auto_settings": False, "ensemble_size": 1,
         "epochs": 5}
# long enough that a fit is still running when the test acts on it
LONG = dict(QUICK, epochs=10000, early_stopping=False)
# the automatic choice, as a new widget makes it
AUTOMATIC = {"auto_apply": False}


def small_expression_table():
    """40 samples of 3 classes and 30 genes: five inner folds, five
    candidates, a few seconds of automatic choice."""
    return expression_table(n_samples=40, n_genes=30, n_classes=3)


class NeuralGeneWidgetTest(WidgetTest):
    quick_settings = QUICK

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.iris = Table("iris")
        # Import TensorFlow now, so the first fit in a test does not run
        # into the test helpers' default 5-second wait for outputs
        NeuralGeneClassifierLearner(auto=False, epochs=1)(cls.iris[::10])

    def setUp(self):
        self.widget = self.create_widget(
            OWNeuralGeneClassifier, stored_settings=self.quick_settings)

    def train(self, data):
        self.send_signal(self.widget.Inputs.data, data)
        self.widget.apply_button.button.clicked.emit()
        return self.get_output(self.widget.Outputs.model, wait=WAIT)

    def start_long_training(self, data, widget=None):
        """Send ``data`` to ``widget`` (default: this test's), whose
        settings make a fit run until stopped; return the fit's task once an
        epoch is done."""
        widget = widget or self.widget
        if not isinstance(widget.on_partial_result, mock.Mock):
            # kept: the running task disconnects the method it connected
            widget.on_partial_result = mock.Mock(
                wraps=widget.on_partial_result)
        seen = widget.on_partial_result.call_count
        self.send_signal(widget.Inputs.data, data, widget=widget)
        self.process_events(
            lambda: widget.on_partial_result.call_count > seen, timeout=WAIT)
        return widget.task
