"""What the widget tests share: a widget that trains in a few epochs, with
TensorFlow loaded before the first test and generous waits for outputs."""
from Orange.data import Table
from Orange.widgets.tests.base import WidgetTest

from orangecontrib.neuralgene.learner import NeuralGeneClassifierLearner
from orangecontrib.neuralgene.widgets.owneuralgeneclassifier import (
    OWNeuralGeneClassifier)

WAIT = 60000  # ms; generous, so a slow machine does not fail the tests


class NeuralGeneWidgetTest(WidgetTest):
    quick_settings = {"auto_apply": False, "epochs": 5}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.iris = Table("iris")
        # Import TensorFlow now, so the first fit in a test does not run
        # into the test helpers' default 5-second wait for outputs
        NeuralGeneClassifierLearner(epochs=1)(cls.iris[::10])

    def setUp(self):
        self.widget = self.create_widget(
            OWNeuralGeneClassifier, stored_settings=self.quick_settings)

    def train(self, data):
        self.send_signal(self.widget.Inputs.data, data)
        self.widget.apply_button.button.clicked.emit()
        return self.get_output(self.widget.Outputs.model, wait=WAIT)
