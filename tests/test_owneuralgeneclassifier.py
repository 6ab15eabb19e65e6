# Test methods with long descriptive names can omit docstrings
# pylint: disable=missing-docstring
import subprocess
import sys
from unittest.mock import Mock

from Orange.widgets.tests.base import (
    ParameterMapping, WidgetLearnerTestMixin)

from tests import widget_testing
from orangecontrib.neuralgene.widgets.owneuralgeneclassifier import (
    REPLICABLE_SEED, OWNeuralGeneClassifier, TrainingInterrupted)

QUICK = {"auto_apply": False, "epochs": 5}
# long enough that a fit is still running when the test acts on it
LONG = {"auto_apply": False, "epochs": 10000, "early_stopping": False}
WAIT = 60000  # ms; generous, so a slow machine does not fail the tests


def checkbox_mapping(name, checkbox, checked_value, unchecked_value):
    return ParameterMapping(
        name, checkbox, values=[checked_value, unchecked_value],
        getter=lambda: checked_value if checkbox.isChecked() else unchecked_value,
        setter=lambda value: checkbox.setChecked(value == checked_value))


def combo_mapping(name, combo):
    """Mapping for a combo that stores its text, not its index, in the setting."""
    def choose(text):
        combo.setCurrentText(text)
        combo.textActivated.emit(text)

    values = [combo.itemText(i) for i in range(combo.count())]
    return ParameterMapping(name, combo, values=values,
                            getter=combo.currentText, setter=choose)


class TestOWNeuralGeneClassifier(widget_testing.NeuralGeneWidgetTest,
                                 WidgetLearnerTestMixin):
    def setUp(self):
        self.widget = self.create_widget(
            OWNeuralGeneClassifier, stored_settings=QUICK)
        self.init()
        controls = self.widget.controls
        self.parameters = [
            ParameterMapping(
                "hidden_layers", controls.hidden_layers, values=[(8,), (8, 4)],
                getter=lambda: tuple(
                    int(n) for n in controls.hidden_layers.text().split(",")),
                setter=lambda layers: self.type_hidden_layers(
                    ", ".join(map(str, layers)))),
            combo_mapping("activation", controls.activation),
            ParameterMapping("dropout", controls.dropout, values=[0.0, 0.25]),
            ParameterMapping("l2", controls.l2, values=[0.0, 0.001]),
            ParameterMapping(
                "n_genes", controls.n_genes, values=[3, None],
                getter=lambda: (controls.n_genes.value()
                                if controls.keep_top_genes.isChecked() else None),
                setter=self.set_n_genes),
            ParameterMapping("epochs", controls.epochs, values=[2, 3]),
            ParameterMapping("batch_size", controls.batch_size, values=[4, 16]),
            ParameterMapping("learning_rate", controls.learning_rate,
                             values=[0.001, 0.01]),
            checkbox_mapping("early_stopping", controls.early_stopping,
                             True, False),
            ParameterMapping("validation_fraction",
                             controls.validation_fraction, values=[0.2, 0.3]),
            ParameterMapping("patience", controls.patience, values=[2, 5]),
            checkbox_mapping("class_weight", controls.balance_classes,
                             "balanced", None),
            checkbox_mapping("random_state", controls.replicable,
                             REPLICABLE_SEED, None),
        ]

    def type_hidden_layers(self, text):
        edit = self.widget.controls.hidden_layers
        edit.setText(text)
        edit.textEdited.emit(text)
        edit.returnPressed.emit()

    def set_n_genes(self, n_genes):
        controls = self.widget.controls
        controls.keep_top_genes.setChecked(n_genes is not None)
        if n_genes is not None:
            controls.n_genes.setValue(n_genes)

    def train(self, data, **settings):
        """Train on `data` with `settings` and return the model."""
        for name, value in settings.items():
            setattr(self.widget, name, value)
        self.send_signal(self.widget.Inputs.data, data)
        self.click_apply()
        return self.get_output(self.widget.Outputs.model, wait=WAIT)

    def start_long_training(self, data):
        """Start a fit that runs until stopped; return once an epoch is done."""
        self.widget = self.create_widget(
            OWNeuralGeneClassifier, stored_settings=LONG)
        self.widget.on_partial_result = Mock(wraps=self.widget.on_partial_result)
        self.send_signal(self.widget.Inputs.data, data)
        self.process_events(lambda: self.widget.on_partial_result.called,
                            timeout=WAIT)
        return self.widget.task

    def test_training_curves_are_plotted_after_training(self):
        model = self.train(self.iris, early_stopping=True)
        curves = self.widget.plot._curves
        self.assertEqual(
            set(curves), {"loss", "accuracy", "val_loss", "val_accuracy"})
        _, losses = curves["loss"].getData()
        self.assertEqual(list(losses), model.history["loss"])

    def test_curves_update_live_during_training(self):
        self.widget.on_partial_result = Mock(wraps=self.widget.on_partial_result)
        self.train(self.iris)
        history = self.widget.on_partial_result.call_args[0][0]
        self.assertIn("loss", history)
        self.assertIn("accuracy", history)

    def test_progress_follows_epochs(self):
        self.widget.progressBarSet = Mock()
        self.train(self.iris, early_stopping=False)
        progress = [call[0][0] for call in self.widget.progressBarSet.call_args_list]
        self.assertEqual(progress[-1], 100)
        self.assertEqual(progress, sorted(progress))

    def test_cancel_leaves_no_model_and_no_error(self):
        state = self.start_long_training(self.iris)
        self.widget.cancel_button.click()
        self.assertTrue(state.is_interruption_requested())
        self.assertIsNone(self.widget.task)
        self.assertFalse(self.widget.isInvalidated())
        self.assertIsNone(self.get_output(self.widget.Outputs.model))
        self.assertFalse(self.widget.Error.active)
        self.assertFalse(self.widget.cancel_button.isEnabled())

    def test_new_data_while_training_restarts_training(self):
        first = self.start_long_training(self.iris)
        new_data = self.iris[::2]
        self.send_signal(self.widget.Inputs.data, new_data)
        self.assertTrue(first.is_interruption_requested())
        self.assertIsNotNone(self.widget.task)
        self.assertIsNot(self.widget.task, first)
        self.assertIs(self.widget.data, new_data)
        self.assertTrue(self.widget.isInvalidated())
        self.assertTrue(self.widget.plot.is_empty)

    def test_widget_deleted_while_training_stops_training(self):
        state = self.start_long_training(self.iris)
        self.widget.onDeleteWidget()
        self.assertTrue(state.future.done())
        self.assertIsInstance(state.future.exception(), TrainingInterrupted)

    def test_invalid_hidden_layers_show_an_error_and_no_learner(self):
        self.type_hidden_layers("64, many")
        self.click_apply()
        self.assertTrue(self.widget.Error.invalid_hidden_layers.is_shown())
        self.assertIsNone(self.get_output(self.widget.Outputs.learner))

        self.type_hidden_layers("16, 8")
        self.click_apply()
        self.assertFalse(self.widget.Error.invalid_hidden_layers.is_shown())
        self.assertEqual(
            self.get_output(self.widget.Outputs.learner).hidden_layers, (16, 8))

    def test_send_report(self):
        # The mixin's version opens the report window; Qt WebEngine and
        # TensorFlow in one process abort the interpreter at exit, so only
        # the report's HTML is built here, with and without data
        self.send_signal(self.widget.Inputs.data, self.data)
        self.get_output(self.widget.Outputs.model, wait=WAIT)
        self.widget.create_report_html()
        self.send_signal(self.widget.Inputs.data, None)
        self.widget.create_report_html()

    def test_report_includes_training_curves(self):
        self.train(self.iris)
        self.widget.create_report_html()
        html = self.widget.report_html
        self.assertIn("Training curves", html)
        self.assertIn("<img", html)
        self.assertIn("Hidden layers", html)

    def test_training_notes_are_shown_as_a_warning(self):
        tiny = self.iris[[0, 1, 2, 50]]
        model = self.train(tiny, early_stopping=True)
        self.assertTrue(model.training_notes)
        self.assertTrue(self.widget.Warning.training_notes.is_shown())
        self.assertIn(model.training_notes[0], str(self.widget.Warning.training_notes))

        self.train(self.iris)
        self.assertFalse(self.widget.Warning.training_notes.is_shown())

    def test_widget_module_does_not_import_tensorflow(self):
        code = ("import sys, orangecontrib.neuralgene.widgets.owneuralgeneclassifier; "
                "assert 'tensorflow' not in sys.modules; "
                "assert 'keras' not in sys.modules")
        subprocess.run([sys.executable, "-c", code], check=True)
