# Test methods with long descriptive names can omit docstrings
# pylint: disable=missing-docstring
import threading
from unittest import TestCase
from unittest.mock import Mock, patch

import numpy as np
import pyqtgraph as pg

from Orange.data import Table
from Orange.widgets.tests.base import (
    ParameterMapping, WidgetLearnerTestMixin)

from orangecontrib.neuralgene.learner import (
    DEFAULT_PARAMETERS, NeuralGeneClassifierLearner)
from orangecontrib.neuralgene import model_selection
from orangecontrib.neuralgene.importance import gene_importance
from orangecontrib.neuralgene.widgets import owneuralgeneclassifier
from orangecontrib.neuralgene.widgets.owneuralgeneclassifier import (
    REPLICABLE_SEED, OWNeuralGeneClassifier, TrainingInterrupted, phase_of,
    train)
from tests.helpers import run_in_fresh_interpreter
from tests.widget_testing import (
    AUTOMATIC, LONG, QUICK, WAIT, NeuralGeneWidgetTest,
    small_expression_table)


def checkbox_mapping(name, checkbox, checked_value, unchecked_value):
    return ParameterMapping(
        name, checkbox, values=[checked_value, unchecked_value],
        getter=lambda: checked_value if checkbox.isChecked() else unchecked_value,
        setter=lambda value: checkbox.setChecked(value == checked_value))


def radio_mapping(name, group, buttons, values):
    """Mapping for radio buttons whose setting is the button's index;
    `buttons` are the learner's values of the buttons, in index order."""
    return ParameterMapping(
        name, group, values=values,
        getter=lambda: buttons[group.group.checkedId() - 1],
        setter=lambda value: group.buttons[buttons.index(value)].click())


def combo_mapping(name, combo):
    """Mapping for a combo that stores its text, not its index, in the setting."""
    def choose(text):
        combo.setCurrentText(text)
        combo.textActivated.emit(text)

    values = [combo.itemText(i) for i in range(combo.count())]
    return ParameterMapping(name, combo, values=values,
                            getter=combo.currentText, setter=choose)


class Gate:
    """Holds the training thread at a point until the test opens it."""

    def __init__(self):
        self._open = threading.Event()
        self.reached = threading.Event()

    def wait(self):
        self.reached.set()
        if not self._open.wait(WAIT / 1000):
            raise TimeoutError("the test never opened the gate")

    def open(self):
        self._open.set()


class SteppedLearner:
    """The widget's own learner, which first reports each of `messages` and
    waits at it until the test opens its gate, then fits, or raises
    `error`."""

    def __init__(self, learner, messages, error=None):
        self.learner = learner
        self.messages = messages
        self.gates = [Gate() for _ in messages]
        self.error = error

    def __getattr__(self, name):
        return getattr(self.learner, name)

    def __call__(self, data, progress_callback=None, epoch_callback=None):
        for message, gate in zip(self.messages, self.gates):
            progress_callback(0, message)
            gate.wait()
        if self.error is not None:
            raise self.error
        return self.learner(data, progress_callback=progress_callback,
                            epoch_callback=epoch_callback)


class TestOWNeuralGeneClassifier(NeuralGeneWidgetTest,
                                 WidgetLearnerTestMixin):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Orange's generic test_parameters waits 5 s for each fit; tracing
        # the automatic choice's graphs, once a process, happens before it
        NeuralGeneClassifierLearner()(Table("iris"))

    def setUp(self):
        self.widget = self.create_widget(
            OWNeuralGeneClassifier, stored_settings=QUICK)
        self.init()
        controls = self.widget.controls
        self.parameters = [
            # by hand last, so that the other parameters train quickly
            radio_mapping("auto", controls.auto_settings,
                          buttons=(False, True), values=[True, False]),
            ParameterMapping("ensemble_size", controls.ensemble_size,
                             values=[1, 2]),
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

    def start_long_training(self, data, widget=None):
        """In a new widget, start a fit that runs until stopped; return its
        task once an epoch is done."""
        self.widget = self.create_widget(
            OWNeuralGeneClassifier, stored_settings=LONG)
        return super().start_long_training(data)

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
        self.assertIsNotNone(
            self.get_output(self.widget.Outputs.model, wait=WAIT))
        self.widget.create_report_html()
        html = self.widget.report_html
        self.assertIn(f"<b>Data instances:</b> {len(self.data)}", html)
        self.assertIn("Training curves", html)

        self.send_signal(self.widget.Inputs.data, None)
        self.widget.create_report_html()
        html = self.widget.report_html
        self.assertIn("<b>Hidden layers:</b>", html)
        self.assertNotIn("Data instances", html)  # nor the curves of old data
        self.assertNotIn("Training curves", html)

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
        run_in_fresh_interpreter(self, """
            import sys, orangecontrib.neuralgene.widgets.owneuralgeneclassifier
            assert 'tensorflow' not in sys.modules
            assert 'keras' not in sys.modules
        """)


class TestSettingsBox(NeuralGeneWidgetTest):
    quick_settings = AUTOMATIC

    def learner(self):
        self.widget.apply_button.button.clicked.emit()
        return self.get_output(self.widget.Outputs.learner)

    def choose(self, automatic):
        self.widget.controls.auto_settings.buttons[int(automatic)].click()

    def manual_controls(self):
        controls = self.widget.controls
        return {name: getattr(controls, name) for name in (
            "hidden_layers", "activation", "dropout", "l2", "keep_top_genes",
            "n_genes", "epochs", "batch_size", "learning_rate",
            "early_stopping", "validation_fraction", "patience")}

    def lasting_controls(self):
        controls = self.widget.controls
        return {name: getattr(controls, name) for name in (
            "ensemble_size", "balance_classes", "replicable")}

    def assert_enabled(self, controls, enabled):
        for name, control in controls.items():
            self.assertEqual(control.isEnabled(), enabled, name)

    def test_a_new_widget_chooses_its_settings_automatically(self):
        learner = self.learner()
        self.assertIs(learner.auto, True)
        self.assertEqual(learner.ensemble_size,
                         DEFAULT_PARAMETERS["ensemble_size"])

    def test_automatic_is_the_first_button_and_checked(self):
        group = self.widget.controls.auto_settings
        first = group.layout().itemAt(0).widget()
        self.assertTrue(first.text().startswith("Choose automatically"))
        self.assertTrue(first.isChecked())

    def test_automatic_greys_out_what_it_chooses(self):
        self.assert_enabled(self.manual_controls(), False)
        self.assert_enabled(self.lasting_controls(), True)

    def test_set_by_hand_trains_with_the_controls_and_enables_them(self):
        self.choose(automatic=False)
        self.assertIs(self.learner().auto, False)
        self.assert_enabled(self.manual_controls(), True)
        self.assert_enabled(self.lasting_controls(), True)

        self.choose(automatic=True)
        self.assertIs(self.learner().auto, True)
        self.assert_enabled(self.manual_controls(), False)

    def test_bad_hidden_layers_do_not_stop_the_automatic_choice(self):
        self.choose(automatic=False)
        edit = self.widget.controls.hidden_layers
        edit.setText("64, many")
        edit.returnPressed.emit()
        self.assertIsNone(self.learner())
        self.assertTrue(self.widget.Error.invalid_hidden_layers.is_shown())

        self.choose(automatic=True)
        self.assertIs(self.learner().auto, True)
        self.assertFalse(self.widget.Error.invalid_hidden_layers.is_shown())

    def test_networks_averaged_goes_to_the_learner(self):
        self.widget.controls.ensemble_size.setValue(5)
        self.assertEqual(self.learner().ensemble_size, 5)


class TestAutomaticChoice(NeuralGeneWidgetTest):
    """What the widget shows of the automatic choice; each test trains once
    on a small table, a few seconds."""
    quick_settings = AUTOMATIC

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.data = small_expression_table()

    def cells(self, row):
        table = self.widget.selection_table.model
        return [table.item(row, column) for column in range(table.columnCount())]

    def test_table_has_a_row_per_candidate_and_marks_the_chosen(self):
        model = self.train(self.data)
        selection = model.selection
        table = self.widget.selection_table
        self.assertFalse(table.isHidden())
        self.assertEqual(table.model.rowCount(), len(selection.scores))
        self.assertEqual(
            [table.model.horizontalHeaderItem(column).text()
             for column in range(table.model.columnCount())],
            ["Genes", "Network", "Scaled", "L2", "Epochs", "Inner CA",
             "Inner log loss", "Chosen"])
        for row, score in enumerate(selection.scores):
            genes, network, scaled, l2, epochs, accuracy, loss, chosen = \
                self.cells(row)
            self.assertEqual(genes.text(), score.candidate.genes)
            self.assertEqual(network.text(), score.candidate.network)
            self.assertEqual(scaled.text(), score.candidate.scaled)
            self.assertEqual(float(l2.text()), score.candidate.l2)
            self.assertEqual(int(epochs.text()), score.epochs)
            self.assertAlmostEqual(float(accuracy.text()), score.accuracy,
                                   places=3)
            self.assertAlmostEqual(float(loss.text()), score.log_loss,
                                   places=3)
            self.assertEqual(chosen.text(), "✓" if score.chosen else "")
            self.assertEqual(genes.font().bold(), score.chosen)
        n_chosen = sum(score.chosen for score in selection.scores)
        self.assertEqual(n_chosen, DEFAULT_PARAMETERS["ensemble_size"])
        self.assertEqual(
            table.title.text(),
            f"Inner {selection.inner_folds}-fold cross-validation on "
            f"{len(self.data)} samples: {n_chosen} of "
            f"{len(selection.scores)} candidates averaged")

    def test_curves_show_inner_cross_validation_and_the_chosen_epochs(self):
        model = self.train(self.data)
        plot = self.widget.plot
        self.assertEqual(plot.legend_names(),
                         ["Training", "Inner CV (held out)"])
        _, held_out = plot._curves["val_loss"].getData()
        np.testing.assert_allclose(
            held_out, model.selection.chosen[0].loss_curve)
        lines = [item.value() for item in plot.loss_plot.items
                 if isinstance(item, pg.InfiniteLine)]
        self.assertEqual(lines, [model.selection.chosen[0].epochs])

    def test_progress_moves_and_says_what_is_done(self):
        # on more samples than the choice reads, the chosen networks are
        # trained after it; on fewer, beside it
        for max_inner_samples, stages in (
                (20, ["Choosing the network (inner cross-validation)",
                      "Training the chosen networks"]),
                (1000, ["Choosing and training the networks "
                        "(inner cross-validation)"])):
            with self.subTest(max_inner_samples=max_inner_samples), \
                    patch.object(model_selection, "MAX_INNER_SAMPLES",
                                 max_inner_samples):
                self.widget.progressBarSet = Mock()
                self.widget.setStatusMessage = Mock()
                self.train(self.data)
                progress = [call[0][0] for call in
                            self.widget.progressBarSet.call_args_list]
                self.assertEqual(progress, sorted(progress))
                self.assertTrue(any(0 < value < 80 for value in progress),
                                progress)
                self.assertEqual(progress[-1], 100)
                statuses = [call[0][0] for call in
                            self.widget.setStatusMessage.call_args_list]
                for stage in stages + ["Measuring gene importance"]:
                    self.assertIn(stage, statuses)

    def test_training_history_has_a_row_per_epoch_of_the_longest_curve(self):
        model = self.train(self.data)
        table = self.get_output(self.widget.Outputs.training_history)
        history = model.history
        self.assertEqual(len(table),
                         max(len(values) for values in history.values()))
        trained = len(history["loss"])
        loss = table.get_column("Training loss")
        np.testing.assert_allclose(loss[:trained], history["loss"])
        self.assertTrue(np.all(np.isnan(loss[trained:])))

    def test_training_by_hand_hides_the_table(self):
        self.train(self.data)
        self.assertFalse(self.widget.selection_table.isHidden())
        self.widget.epochs = 5
        self.widget.ensemble_size = 1
        self.widget.controls.auto_settings.buttons[0].click()  # by hand
        model = self.train(self.data)
        self.assertIsNone(model.selection)
        self.assertTrue(self.widget.selection_table.isHidden())
        self.assertTrue(self.widget.selection_table.is_empty)
        self.assertEqual(self.widget.plot.legend_names(),
                         ["Training", "Validation"])

    def test_too_few_samples_for_inner_folds_shows_the_fixed_settings(self):
        tiny = self.iris[[0, 1, 2, 50, 51, 52, 100, 101]]  # 2 of virginica
        model = self.train(tiny)
        self.assertTrue(model.selection.fell_back)
        table = self.widget.selection_table
        self.assertEqual(table.model.rowCount(), 1)
        self.assertEqual([cell.text() for cell in self.cells(0)][5:],
                         ["–", "–", "✓"])
        self.assertTrue(table.title.text().startswith(
            "No inner cross-validation"))
        self.assertTrue(self.widget.Warning.training_notes.is_shown())


class TestPhaseLine(NeuralGeneWidgetTest):
    """The line above the training curves says which phase a fit is in,
    and how the last fit ended."""

    def phase(self):
        return self.widget.phase_label.text()

    def stepped_learner(self, messages, error=None):
        """Make the widget train with a SteppedLearner; return it."""
        stepped = []
        create = self.widget.create_learner

        def create_stepped():
            stepped.append(SteppedLearner(create(), messages, error))
            return stepped[-1]
        self.widget.create_learner = create_stepped
        self.widget.apply_button.button.clicked.emit()
        return stepped[-1]

    def wait_for_phase(self, text):
        self.process_events(lambda: self.phase() == text, timeout=WAIT)

    def test_phase_follows_the_learners_messages_until_trained(self):
        stepped = self.stepped_learner(
            ["Preprocessing...", "Choosing the network",
             "Training the chosen networks"])
        measuring = Gate()

        def held_importance(model, data):
            measuring.wait()
            return gene_importance(model, data)

        with patch.object(owneuralgeneclassifier, "gene_importance",
                          held_importance):
            self.send_signal(self.widget.Inputs.data, self.iris)
            for gate, shown in zip(stepped.gates, (
                    "Preparing the data…",
                    "Choosing the network (inner cross-validation)…",
                    "Training the chosen networks…")):
                self.wait_for_phase(shown)
                # the canvas shows the same phase under the widget's icon
                self.assertEqual(self.widget.statusMessage(), shown[:-1])
                gate.open()
            self.wait_for_phase("Measuring gene importance…")
            self.assertEqual(self.widget.statusMessage(),
                             "Measuring gene importance")
            measuring.open()
            self.assertIsNotNone(
                self.get_output(self.widget.Outputs.model, wait=WAIT))
        self.assertRegex(self.phase(), r"^Trained in \d")
        self.assertEqual(self.widget.statusMessage(), "")

    def test_phase_shows_the_epochs_of_a_network_set_by_hand(self):
        label = self.widget.phase_label
        shown = []
        set_text = label.setText
        label.setText = lambda text: (shown.append(text), set_text(text))
        self.train(self.iris)
        self.assertIn("Picking and scaling the top 200 genes…", shown)
        self.assertIn("Training the network: epoch 1 of 5…", shown)
        self.assertIn("Training the network: epoch 5 of 5…", shown)
        self.assertLess(shown.index("Training the network: epoch 5 of 5…"),
                        shown.index("Measuring gene importance…"))
        self.assertRegex(shown[-1], r"^Trained in \d")

    def test_cancel_replaces_the_phase(self):
        self.widget = self.create_widget(
            OWNeuralGeneClassifier, stored_settings=LONG)
        state = self.start_long_training(self.iris)
        self.process_events(lambda: "epoch" in self.phase(), timeout=WAIT)
        self.widget.cancel_button.click()
        self.assertEqual(self.phase(), "Training cancelled: no model.")
        self.assertEqual(self.widget.statusMessage(), "")
        # the stopped fit's last reports do not bring its phase back
        self.process_events(lambda: state.future.done(), timeout=WAIT)
        self.process_events()
        self.assertEqual(self.phase(), "Training cancelled: no model.")

    def test_new_data_while_training_starts_the_phases_anew(self):
        stepped = self.stepped_learner(["Choosing the network"])
        self.send_signal(self.widget.Inputs.data, self.iris)
        self.wait_for_phase("Choosing the network (inner cross-validation)…")
        self.send_signal(self.widget.Inputs.data, None)
        self.assertEqual(self.phase(), "")
        stepped.gates[0].open()

    def test_failed_training_clears_the_phase(self):
        stepped = self.stepped_learner(
            ["Choosing the network"], error=ValueError("no good"))
        self.send_signal(self.widget.Inputs.data, self.iris)
        self.wait_for_phase("Choosing the network (inner cross-validation)…")
        stepped.gates[0].open()
        self.process_events(
            lambda: self.widget.Error.fitting_failed.is_shown(), timeout=WAIT)
        self.assertEqual(self.phase(), "")
        self.assertEqual(self.widget.statusMessage(), "")

    def test_a_phase_is_sent_once_while_it_lasts(self):
        learner = Mock(auto=True)
        state = Mock()
        state.is_interruption_requested.return_value = False

        def fit(data, progress_callback, epoch_callback):
            for fraction in (0.1, 0.2, 0.3):
                progress_callback(fraction, "Choosing the network")
            progress_callback(0.9, "Training the chosen networks")
            raise ValueError("stop here")
        learner.side_effect = fit
        with self.assertRaises(ValueError):
            train(self.iris, learner, state)
        self.assertEqual(
            [call[0][0] for call in state.set_status.call_args_list],
            ["Choosing the network (inner cross-validation)",
             "Training the chosen networks"])


class TestPhaseNames(TestCase):
    def test_known_messages_are_named_and_others_shown_as_they_are(self):
        self.assertEqual(phase_of("Fitting..."), "Preparing the data")
        self.assertEqual(phase_of("Choosing the network"),
                         "Choosing the network (inner cross-validation)")
        self.assertEqual(phase_of("Something new"), "Something new")

    def test_epochs_say_which_network_when_several_are_trained(self):
        by_hand = NeuralGeneClassifierLearner(auto=False, ensemble_size=5)
        self.assertEqual(phase_of("Epoch 3 of 10", by_hand),
                         "Training the network: epoch 3 of 10")
        self.assertEqual(
            phase_of("Network 1 of 5: epoch 3 of 10", by_hand),
            "Training network 1 of 5: epoch 3 of 10")
        self.assertEqual(
            phase_of("Network 2 of 5: epoch 3 of 10", by_hand),
            "Training network 2 of 5: epoch 3 of 10")

    def test_by_hand_the_steps_before_the_epochs_name_the_genes(self):
        top = NeuralGeneClassifierLearner(auto=False, n_genes=200)
        every = NeuralGeneClassifierLearner(auto=False, n_genes=None)
        automatic = NeuralGeneClassifierLearner(auto=True, n_genes=200)
        self.assertEqual(phase_of("Fitting...", top),
                         "Picking and scaling the top 200 genes")
        self.assertEqual(phase_of("Fitting...", every), "Scaling the genes")
        self.assertEqual(phase_of("Fitting...", automatic),
                         "Preparing the data")
