"""The widget's report holds its parameters, the training data and the
training curves. The report's HTML is built without opening the Report
window: Qt WebEngine and TensorFlow in one process abort the interpreter."""
import base64
import re

from AnyQt.QtGui import QImage

from Orange.data import Table
from Orange.widgets.tests.base import WidgetTest

from orangecontrib.neuralgene.widgets.owneuralgeneclassifier import (
    OWNeuralGeneClassifier)

WAIT = 60000  # ms; generous, so a slow machine does not fail the test
PNG_IMAGE = re.compile(r'<img[^>]*src="data:image/png;base64,([^"]+)"')


class TestReport(WidgetTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.iris = Table("iris")

    def setUp(self):
        self.widget = self.create_widget(
            OWNeuralGeneClassifier,
            stored_settings={"auto_apply": False, "epochs": 5,
                             "hidden_layers": "16, 8", "keep_top_genes": False})

    def train(self):
        # one reports from the widget's window, so the plot has its size
        self.widget.show()
        self.send_signal(self.widget.Inputs.data, self.iris)
        self.widget.apply_button.button.click()
        self.assertIsNotNone(
            self.get_output(self.widget.Outputs.model, wait=WAIT))

    def report(self):
        self.widget.create_report_html()
        return self.widget.report_html

    def test_report_lists_every_parameter_with_its_value(self):
        self.train()
        html = self.report()
        self.assertIn("Model parameters", html)
        parameters = self.widget.get_learner_parameters()
        self.assertIn(("Hidden layers", "16, 8"), parameters)
        self.assertIn(("Genes", "all"), parameters)
        for name, value in parameters:
            self.assertIn(f"<b>{name}:</b> {value}", html)

    def test_report_describes_the_training_data(self):
        self.train()
        html = self.report()
        self.assertIn("<h2>Data</h2>", html)
        self.assertIn(f"<b>Data instances:</b> {len(self.iris)}", html)
        self.assertIn("<b>Target:</b> iris", html)

    def test_report_shows_the_training_curves_as_an_image(self):
        self.train()
        html = self.report()
        self.assertIn("Training curves", html)
        encoded, = PNG_IMAGE.findall(html)
        image = QImage.fromData(base64.b64decode(encoded), "PNG")
        self.assertFalse(image.isNull())
        self.assertGreater(image.width(), 200)
        self.assertGreater(image.height(), 200)

    def test_report_without_data_has_parameters_but_no_data_or_curves(self):
        html = self.report()
        self.assertIn("<b>Hidden layers:</b> 16, 8", html)
        self.assertNotIn("Data instances", html)
        self.assertNotIn("<img", html)
