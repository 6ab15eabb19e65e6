"""The widget on every awkward table from File: a model, with a warning
where something was left out or filled in, or an error that says what to
change; and training that outlives no one: new input, Cancel, removal,
a closed workflow. Saved models load in a new process; old settings open."""
# Test methods with long descriptive names can omit docstrings
# pylint: disable=missing-docstring
import io
import os
import sys
import tempfile
from unittest import mock

import numpy as np

from orangecanvas.registry import WidgetDescription
from orangecanvas.scheme import SchemeNode
from orangewidget.settings import VERSION_KEY, SettingsHandler
from orangewidget.workflow.widgetsscheme import WidgetsScheme

from Orange.data import ContinuousVariable, Domain, Table
from Orange.widgets.evaluate.owpredictions import OWPredictions
from Orange.widgets.model.owsavemodel import OWSaveModel

from orangecontrib.neuralgene.learner import DEFAULT_PARAMETERS
from orangecontrib.neuralgene.widgets.owneuralgeneclassifier import (
    OWNeuralGeneClassifier, TrainingInterrupted)
from tests.awkward_tables import CASES, ERROR, scattered_missing, with_values
from tests.helpers import expression_table, run_in_fresh_interpreter
from tests.widget_testing import LONG, QUICK, WAIT, NeuralGeneWidgetTest


def shown_text(messages):
    return "\n".join(str(message) for message in messages.active)


class RobustnessTest(NeuralGeneWidgetTest):
    quick_settings = dict(QUICK, hidden_layers="8")


class TestAwkwardTables(RobustnessTest):
    def test_every_case_gives_a_model_or_shows_what_to_change(self):
        for name, (make_table, outcome, words) in CASES.items():
            with self.subTest(name):
                model = self.train(make_table())
                errors = shown_text(self.widget.Error)
                notes = self.widget.Warning.training_notes
                if outcome == ERROR:
                    self.assertIsNone(model)
                    self.assertIn(words.lower(), errors.lower())
                    self.assertFalse(notes.is_shown())
                    continue
                self.assertIsNotNone(model)
                self.assertEqual(errors, "")
                self.assertIsNotNone(
                    self.get_output(self.widget.Outputs.gene_importance))
                if words is None:
                    self.assertFalse(notes.is_shown())
                else:
                    self.assertIn(words, str(notes))

    def test_an_error_goes_once_the_data_are_fixed(self):
        self.train(expression_table()[:1])
        self.assertTrue(self.widget.Error.fitting_failed.is_shown())
        self.assertIsNotNone(self.train(expression_table()))
        self.assertFalse(self.widget.Error.active)


class TestPredictingOtherTables(RobustnessTest):
    def predictions(self, model, data):
        predictions = self.create_widget(OWPredictions)
        self.send_signal(predictions.Inputs.predictors, model, 1,
                         widget=predictions)
        self.send_signal(predictions.Inputs.data, data, widget=predictions)
        self.assertFalse(predictions.Error.active,
                         shown_text(predictions.Error))
        return predictions.predictors[0].results.probabilities[0]

    def test_predictions_of_data_with_fewer_genes_in_another_order(self):
        data = expression_table()
        model = self.train(data)
        kept = data.domain.attributes[:5:-1]
        fewer = data.transform(Domain(kept, data.domain.class_var))
        probs = self.predictions(model, fewer)
        self.assertEqual(probs.shape, (len(data), 3))
        self.assertTrue(np.all(np.isfinite(probs)))
        np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-6)

    def test_predictions_of_data_with_gaps_and_infinities(self):
        data = with_values(scattered_missing)
        model = self.train(data)
        new = with_values(lambda X, _: X.__setitem__(X > 2, np.inf), data)
        probs = self.predictions(model, new)
        self.assertTrue(np.all(np.isfinite(probs)))
        np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-6)


class TestTrainingLifecycle(RobustnessTest):
    def setUp(self):
        self.widget = self.create_widget(
            OWNeuralGeneClassifier, stored_settings=LONG)

    def test_new_settings_while_training_restart_it(self):
        first = self.start_long_training(self.iris)
        self.widget.auto_apply = True
        self.widget.controls.epochs.setValue(3)  # the spin box's callback
        self.assertTrue(first.is_interruption_requested())
        model = self.get_output(self.widget.Outputs.model, wait=WAIT)
        self.assertEqual(model.n_epochs_trained, 3)
        self.assertFalse(self.widget.Error.active)

    def test_new_data_while_training_train_on_the_new_data(self):
        first = self.start_long_training(self.iris)
        # the settings of a short fit, as Apply would make them, so that
        # the fit on the new data ends; the running fit keeps its learner
        self.widget.epochs = 3
        self.widget.update_learner()
        self.assertFalse(first.is_interruption_requested())
        genes = [ContinuousVariable(f"gene{i}") for i in range(3)]
        new_data = Table.from_numpy(
            Domain(genes, self.iris.domain.class_var),
            self.iris.X[::2, :3], self.iris.Y[::2])
        self.send_signal(self.widget.Inputs.data, new_data)
        self.assertTrue(first.is_interruption_requested())
        model = self.get_output(self.widget.Outputs.model, wait=WAIT)
        self.assertEqual(model.domain.attributes, new_data.domain.attributes)
        self.assertEqual(model.n_epochs_trained, 3)
        self.assertIs(model.instances, new_data)
        self.process_events(lambda: first.future.done(), timeout=WAIT)
        self.assertIsInstance(first.future.exception(), TrainingInterrupted)

    def test_cancel_then_apply_trains_again(self):
        state = self.start_long_training(self.iris)
        self.widget.cancel_button.click()
        self.assertTrue(state.is_interruption_requested())
        self.assertIsNone(self.get_output(self.widget.Outputs.model))
        self.assertFalse(self.widget.Error.active)

        self.widget.controls.epochs.setValue(3)
        self.widget.apply_button.button.clicked.emit()
        model = self.get_output(self.widget.Outputs.model, wait=WAIT)
        self.assertEqual(model.n_epochs_trained, 3)

    def test_removing_the_data_while_training_stops_it(self):
        state = self.start_long_training(self.iris)
        self.send_signal(self.widget.Inputs.data, None)
        self.assertTrue(state.is_interruption_requested())
        self.assertIsNone(self.get_output(self.widget.Outputs.model))


class TestWidgetInAWorkflow(RobustnessTest):
    """The widget as the canvas holds it, in a WidgetsScheme."""

    def setUp(self):
        # widgets removed from a workflow store their settings as defaults;
        # keep the user's Orange settings untouched
        patcher = mock.patch.object(SettingsHandler, "write_defaults")
        patcher.start()
        self.addCleanup(patcher.stop)
        self.scheme = WidgetsScheme()
        self.scheme.widget_manager.set_creation_policy(
            self.scheme.widget_manager.Immediate)
        description = WidgetDescription(
            **OWNeuralGeneClassifier.get_widget_description())
        self.node = SchemeNode(description, properties=dict(LONG))
        self.scheme.add_node(self.node)
        self.widget = self.scheme.widget_for_node(self.node)
        self.addCleanup(self.scheme.clear)

    def assert_stops_cleanly(self, close):
        excepthook = mock.Mock()
        with mock.patch.object(sys, "excepthook", excepthook):
            state = self.start_long_training(self.iris)
            close()
            self.process_events(lambda: state.future.done(), timeout=WAIT)
            self.process_events(timeout=200)
        self.assertIsInstance(state.future.exception(), TrainingInterrupted)
        excepthook.assert_not_called()

    def test_trains_in_a_workflow(self):
        self.widget.epochs = 3
        self.widget.learner = None  # as if Apply, with the new setting
        self.send_signal(self.widget.Inputs.data, self.iris,
                         widget=self.widget)
        self.process_events(lambda: self.widget.model is not None,
                            timeout=WAIT)
        self.assertEqual(self.widget.model.n_epochs_trained, 3)

    def test_removing_the_widget_while_training_stops_training(self):
        self.assert_stops_cleanly(lambda: self.scheme.remove_node(self.node))
        self.assertEqual(self.scheme.nodes, [])

    def test_closing_the_workflow_while_training_stops_training(self):
        self.assert_stops_cleanly(self.scheme.clear)
        self.assertEqual(self.scheme.nodes, [])


class TestSavedModels(RobustnessTest):
    def test_saved_model_loads_and_predicts_in_a_new_process(self):
        data = with_values(scattered_missing)
        model = self.train(data)
        save = self.create_widget(OWSaveModel)
        with tempfile.TemporaryDirectory() as folder:
            save.filename = os.path.join(folder, "classifier.pkcls")
            self.send_signal(save.Inputs.model, model, widget=save)
            save.do_save()
            data_path = os.path.join(folder, "samples.pkl")
            data.save(data_path)
            done = run_in_fresh_interpreter(self, """
                import pickle, sys
                import numpy as np
                from Orange.data import Table
                with open(sys.argv[1], "rb") as f:  # as Load Model does
                    model = pickle.load(f)
                data = Table(sys.argv[2])
                np.save(sys.stdout.buffer, model(data, model.Probs))
                print(model.name, file=sys.stderr)
            """, save.filename, data_path, binary=True)
        probs = np.load(io.BytesIO(done.stdout))
        np.testing.assert_allclose(probs, model(data, model.Probs),
                                   rtol=1e-6, atol=1e-7)
        self.assertEqual(done.stderr.decode().strip(), model.name)


class TestOldSettings(RobustnessTest):
    def setUp(self):
        pass

    def open_with(self, settings):
        widget = self.create_widget(OWNeuralGeneClassifier,
                                    stored_settings=settings)
        self.process_events()  # the widget creates its learner on a timer
        return widget

    def test_settings_saved_without_a_version_open(self):
        widget = self.open_with({"epochs": 7, "dropout": 0.2})
        self.assertEqual(widget.learner.epochs, 7)
        self.assertEqual(widget.learner.dropout, 0.2)
        self.assertEqual(widget.learner.n_genes, 200)

    def test_settings_without_a_version_choose_automatically_unless_told(self):
        widget = self.open_with({"epochs": 7})
        self.assertIs(widget.learner.auto, True)
        self.assertEqual(widget.learner.ensemble_size,
                         DEFAULT_PARAMETERS["ensemble_size"])
        widget = self.open_with({"auto": False, "ensemble_size": 2})
        self.assertIs(widget.auto_settings, False)
        self.assertIs(widget.learner.auto, False)
        self.assertEqual(widget.learner.ensemble_size, 2)

    def test_workflows_of_version_1_train_one_network_by_hand(self):
        widget = self.open_with({VERSION_KEY: 1, "hidden_layers": "32",
                                 "epochs": 50})
        self.assertIs(widget.auto_settings, False)
        self.assertEqual(widget.ensemble_size, 1)
        self.assertIs(widget.learner.auto, False)
        self.assertEqual(widget.learner.ensemble_size, 1)
        self.assertEqual(widget.learner.hidden_layers, (32,))
        self.assertTrue(widget.controls.epochs.isEnabled())

    def test_version_1_settings_keep_what_they_already_have(self):
        widget = self.open_with({VERSION_KEY: 1, "auto_settings": True,
                                 "ensemble_size": 4})
        self.assertIs(widget.learner.auto, True)
        self.assertEqual(widget.learner.ensemble_size, 4)

    def test_learner_names_and_types_from_an_older_workflow_open(self):
        widget = self.open_with({
            VERSION_KEY: 0, "hidden_layers": [32, 16], "n_genes": None,
            "class_weight": "balanced", "random_state": None,
            "activation": "swish", "epochs": "20", "dropout": 0,
            "early_stopping": 1, "no_such_setting": 3})
        learner = widget.learner
        self.assertEqual(widget.hidden_layers, "32, 16")
        self.assertEqual(learner.hidden_layers, (32, 16))
        self.assertIsNone(learner.n_genes)
        self.assertEqual(learner.class_weight, "balanced")
        self.assertIsNone(learner.random_state)
        self.assertEqual(learner.activation, "relu")
        self.assertEqual(learner.epochs, 20)
        self.assertIs(widget.early_stopping, True)
        self.assertFalse(widget.Error.active)

    def test_settings_of_this_version_survive_saving_and_opening(self):
        widget = self.open_with({"hidden_layers": "128, 64", "epochs": 50,
                                 "keep_top_genes": False,
                                 "balance_classes": True,
                                 "ensemble_size": 2})
        widget.controls.auto_settings.buttons[0].click()  # by hand
        packed = widget.settingsHandler.pack_data(widget)
        self.assertEqual(packed[VERSION_KEY],
                         OWNeuralGeneClassifier.settings_version)
        reopened = self.open_with(packed)
        self.assertEqual(reopened.learner.params, widget.learner.params)
        self.assertEqual(reopened.learner.hidden_layers, (128, 64))
        self.assertIsNone(reopened.learner.n_genes)
        self.assertIs(reopened.learner.auto, False)
        self.assertEqual(reopened.learner.ensemble_size, 2)
        self.assertTrue(reopened.controls.epochs.isEnabled())
