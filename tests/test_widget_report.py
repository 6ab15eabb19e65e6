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
from tests.widget_testing import (
    AUTOMATIC, QUICK, WAIT, small_expression_table)

PNG_IMAGE = re.compile(r'<img[^>]*src="data:image/png;base64,([^"]+)"')


class TestReport(WidgetTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.iris = Table("iris")

    def setUp(self):
        self.widget = self.create_widget(
            OWNeuralGeneClassifier,
            stored_settings=dict(QUICK, hidden_layers="16, 8",
                                 keep_top_genes=False))

    def train(self, data=None):
        # one reports from the widget's window, so the plot has its size
        self.widget.show()
        self.send_signal(self.widget.Inputs.data,
                         self.iris if data is None else data)
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
        self.assertIn(("Settings", "set by hand"), parameters)
        self.assertIn(("Hidden layers", "16, 8"), parameters)
        self.assertIn(("Genes", "all"), parameters)
        self.assertIn(("Networks averaged", 1), parameters)
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

    def test_report_by_hand_has_no_table_of_candidates(self):
        self.train()
        html = self.report()
        self.assertNotIn("Automatic choice", html)
        self.assertNotIn("<table", html)


class TestReportOfAutomaticChoice(WidgetTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.data = small_expression_table()

    def setUp(self):
        self.widget = self.create_widget(
            OWNeuralGeneClassifier, stored_settings=AUTOMATIC)

    def test_parameters_are_those_the_automatic_choice_leaves_to_the_user(self):
        self.assertEqual(
            [name for name, _ in self.widget.get_learner_parameters()],
            ["Settings", "Networks averaged", "Balance classes",
             "Replicable training"])
        self.widget.create_report_html()
        html = self.widget.report_html
        self.assertIn("<b>Settings:</b> chosen by inner cross-validation",
                      html)
        self.assertNotIn("Hidden layers", html)

    def test_report_has_the_table_of_candidates(self):
        self.widget.show()
        self.send_signal(self.widget.Inputs.data, self.data)
        self.widget.apply_button.button.click()
        model = self.get_output(self.widget.Outputs.model, wait=WAIT)
        self.widget.create_report_html()
        html = self.widget.report_html
        self.assertIn("Automatic choice of settings", html)
        self.assertIn(self.widget.selection_table.title.text(), html)
        table, = re.findall(r"<table.*?</table>", html, re.S)
        rows = re.findall(r"<tr.*?</tr>", table, re.S)
        self.assertEqual(len(rows), 1 + len(model.selection.scores))
        self.assertIn("Inner log loss", rows[0])
        chosen = [row for row in rows[1:] if "font-weight: bold" in row]
        self.assertEqual(len(chosen), len(model.selection.chosen))
        self.assertTrue(all("✓" in row for row in chosen))
        for score, row in zip(model.selection.scores, rows[1:]):
            self.assertIn(score.candidate.network, row)
