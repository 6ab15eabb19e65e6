"""Orange widget: train a neural network that classifies samples by gene expression."""
import re
import time

from AnyQt.QtCore import Qt
from AnyQt.QtWidgets import QVBoxLayout

from orangewidget.report import bool_str

from Orange.data import Table
from Orange.widgets import gui
from Orange.widgets.settings import Setting
from Orange.widgets.utils.concurrent import ConcurrentWidgetMixin, TaskState
from Orange.widgets.utils.owlearnerwidget import OWBaseLearner
from Orange.widgets.utils.widgetpreview import WidgetPreview
from Orange.widgets.widget import Msg, Output

from orangecontrib.neuralgene.importance import (
    gene_importance, gene_importance_table)
from orangecontrib.neuralgene.learner import (
    ACTIVATIONS, DEFAULT_PARAMETERS as DEFAULTS, EpochProgress,
    NeuralGeneClassifierLearner)
from orangecontrib.neuralgene.training_history import training_history_table
from orangecontrib.neuralgene.widgets.selectiontable import SelectionTable
from orangecontrib.neuralgene.widgets.trainingplot import (
    INNER_CV, VALIDATION, TrainingPlot)

# Replicable training needs some fixed seed even if the learner's default is None
REPLICABLE_SEED = DEFAULTS["random_state"] if DEFAULTS["random_state"] is not None else 0
PLOT_UPDATE_INTERVAL = 0.05  # seconds; live curves refresh at most 20 times a second

# The phases of a fit as the widget names them, by the progress message that
# starts them (Orange's Learner sends the first two); other messages are
# shown as they come
FITTING = "Fitting..."
PHASES = {
    "Preprocessing...": "Preparing the data",
    FITTING: "Preparing the data",
    "Choosing the network": "Choosing the network (inner cross-validation)",
    "Choosing and training the networks":
        "Choosing and training the networks (inner cross-validation)",
    "Training the chosen networks": "Training the chosen networks",
}
MEASURING_IMPORTANCE = "Measuring gene importance"


class TrainingInterrupted(Exception):
    """Raised in the training thread to stop a fit the user no longer wants."""


def parse_hidden_layers(text):
    """Neurons per hidden layer from text like "128, 64"; None if not valid."""
    parts = [part for part in re.split(r"[,;\s]+", text.strip()) if part]
    if not parts or not all(part.isdigit() and int(part) > 0 for part in parts):
        return None
    return tuple(int(part) for part in parts)


def phase_of(message, learner=None):
    """What the widget shows while `learner` reports `message`."""
    by_hand = learner is not None and not getattr(learner, "auto", True)
    if by_hand and message == FITTING:
        # by hand, the learner's steps before the first epoch, which on a
        # large table take most of the time of a few epochs
        n_genes = getattr(learner, "n_genes", None)
        return (f"Picking and scaling the top {n_genes} genes" if n_genes
                else "Scaling the genes")
    progress = EpochProgress.from_message(message)
    if progress is None:
        return PHASES.get(message, message)
    network = ("the network" if progress.n_networks == 1 else
               f"network {progress.network + 1} of {progress.n_networks}")
    return (f"Training {network}: "
            f"epoch {progress.epoch} of {progress.n_epochs}")


def duration_text(seconds):
    """E.g. "0.4 s", "12 s", "3 min 05 s"."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


def train(data, learner, state: TaskState):
    """Fit `learner` on `data` in a worker thread, reporting its progress,
    the phase it is in and, with settings set by hand, the curves of every
    epoch; return the model and its table of gene importance."""
    history = {}
    last_update = 0.0
    shown = None  # the phase last sent to the widget

    def show(phase):
        nonlocal shown
        if phase != shown:  # each status crosses to the GUI thread
            shown = phase
            state.set_status(phase)

    def on_progress(fraction, message=None):
        # the learner's progress covers its steps and, by hand, the epochs
        if state.is_interruption_requested():
            raise TrainingInterrupted
        state.set_progress_value(100 * fraction)
        if message:
            show(phase_of(message, learner))

    def on_epoch(epoch, n_epochs, logs):
        nonlocal last_update
        if state.is_interruption_requested():
            raise TrainingInterrupted
        for key, value in logs.items():
            history.setdefault(key, []).append(float(value))
        now = time.monotonic()
        if now - last_update >= PLOT_UPDATE_INTERVAL or epoch == n_epochs:
            last_update = now
            state.set_partial_result({key: list(values) for key, values in history.items()})

    model = learner(data, progress_callback=on_progress, epoch_callback=on_epoch)
    show(MEASURING_IMPORTANCE)
    return model, gene_importance_table(gene_importance(model, data))


class OWNeuralGeneClassifier(OWBaseLearner, ConcurrentWidgetMixin):
    name = "Neural Gene Classifier"
    description = ("A neural network that classifies samples (e.g. tumour "
                   "types) from their gene expression profiles.")
    icon = "icons/NeuralGeneClassifier.svg"
    priority = 10
    keywords = "neural network, deep learning, gene expression, mlp, keras"

    LEARNER = NeuralGeneClassifierLearner

    want_main_area = True
    resizing_enabled = True

    settings_version = 2
    auto_settings = Setting(DEFAULTS["auto"])
    ensemble_size = Setting(DEFAULTS["ensemble_size"])
    hidden_layers = Setting(", ".join(map(str, DEFAULTS["hidden_layers"])))
    activation = Setting(DEFAULTS["activation"])
    dropout = Setting(DEFAULTS["dropout"])
    l2 = Setting(DEFAULTS["l2"])
    keep_top_genes = Setting(DEFAULTS["n_genes"] is not None)
    n_genes = Setting(DEFAULTS["n_genes"] or 2000)
    epochs = Setting(DEFAULTS["epochs"])
    batch_size = Setting(DEFAULTS["batch_size"])
    learning_rate = Setting(DEFAULTS["learning_rate"])
    early_stopping = Setting(DEFAULTS["early_stopping"])
    validation_fraction = Setting(DEFAULTS["validation_fraction"])
    patience = Setting(DEFAULTS["patience"])
    balance_classes = Setting(DEFAULTS["class_weight"] == "balanced")
    replicable = Setting(DEFAULTS["random_state"] is not None)

    class Outputs(OWBaseLearner.Outputs):
        gene_importance = Output("Gene Importance", Table, explicit=True)
        training_history = Output("Training History", Table, explicit=True)

    class Error(OWBaseLearner.Error):
        invalid_hidden_layers = Msg(
            "Hidden layers must be positive numbers of neurons, "
            "e.g. \"64\" or \"128, 64\".")

    class Warning(OWBaseLearner.Warning):
        training_notes = Msg("{}")

    def __init__(self):
        ConcurrentWidgetMixin.__init__(self)
        self.importance_table = None  # gene importance of self.model
        self._training_started = None  # time.monotonic() of the fit's start
        OWBaseLearner.__init__(self)

    # GUI
    def add_main_layout(self):
        self._add_settings_box()
        self._add_network_box()
        self._add_genes_box()
        self._add_training_box()
        self._enable_manual_settings()
        # the phase of a fit in progress, or how the last one ended
        self.phase_label = gui.widgetLabel(self.mainArea, "")
        # an empty line keeps its height: the plot does not jump
        self.phase_label.setMinimumHeight(
            self.phase_label.fontMetrics().height())
        self.plot = TrainingPlot(self.mainArea)
        self.selection_table = SelectionTable(self.mainArea)
        layout: QVBoxLayout = self.mainArea.layout()
        layout.addWidget(self.plot, stretch=1)
        layout.addWidget(self.selection_table)

    def _add_settings_box(self):
        box = gui.vBox(self.controlArea, "Settings")
        # the setting is the button's index (False, True); automatic shows first
        group = gui.radioButtons(
            box, self, "auto_settings",
            btnLabels=("Set by hand",
                       "Choose automatically (inner cross-validation)"),
            tooltips=(
                "Train the network exactly as set in the boxes below.",
                "Try a small family of networks (all genes or the top "
                "genes, with or without a hidden layer, weaker or stronger "
                "penalties) on parts of the training samples, score each "
                "on the rest, and keep the best.\nThe samples given to "
                "Test & Score for testing are never used for the choice."),
            callback=[self._enable_manual_settings, self.settings_changed])
        group.layout().insertWidget(0, group.buttons[1])

    def _add_network_box(self):
        box = self.network_box = gui.vBox(self.controlArea, "Network")
        gui.lineEdit(
            box, self, "hidden_layers", label="Neurons in hidden layers:",
            orientation=Qt.Horizontal, controlWidth=90,
            callback=self.settings_changed,
            tooltip="How many neurons each hidden layer has, separated by "
                    "commas: \"64\" is one layer, \"128, 64\" two layers.\n"
                    "Larger networks can learn more complex expression "
                    "patterns but overfit more easily on few samples.")
        gui.comboBox(
            box, self, "activation", label="Activation:", items=ACTIVATIONS,
            sendSelectedValue=True, orientation=Qt.Horizontal,
            callback=self.settings_changed,
            tooltip="How a neuron responds to its inputs; "
                    "\"relu\" works well in most cases.")
        gui.doubleSpin(
            box, self, "dropout", 0, 0.9, 0.05, decimals=2,
            label="Dropout:", alignment=Qt.AlignRight, controlWidth=90,
            callback=self.settings_changed,
            tooltip="Fraction of neurons ignored at random during training.\n"
                    "Higher values guard against memorising the training "
                    "samples.")
        gui.doubleSpin(
            box, self, "l2", 0, 1, 0.0001, decimals=5,
            label="L2 regularisation:", alignment=Qt.AlignRight,
            controlWidth=90, callback=self.settings_changed,
            tooltip="Penalty on large weights. Higher values give simpler "
                    "models that rely less on any single gene.")

    def _add_genes_box(self):
        box = self.genes_box = gui.vBox(self.controlArea, "Genes")
        gui.spin(
            box, self, "n_genes", 1, 100000, 100,
            checked="keep_top_genes", label="Keep only the top genes:",
            alignment=Qt.AlignRight, controlWidth=90,
            callback=self.settings_changed, checkCallback=self.settings_changed,
            tooltip="Train on the genes whose expression differs most between "
                    "the classes (chosen on the training samples only).\n"
                    "When unchecked, all genes are used.")

    def _add_training_box(self):
        training = gui.vBox(self.controlArea, "Training")
        box = self.manual_training_box = gui.vBox(training)
        gui.spin(
            box, self, "epochs", 1, 10000, label="Epochs:",
            alignment=Qt.AlignRight, controlWidth=90,
            callback=self.settings_changed,
            tooltip="How many times the network sees every training sample.")
        gui.spin(
            box, self, "batch_size", 1, 4096, label="Batch size:",
            alignment=Qt.AlignRight, controlWidth=90,
            callback=self.settings_changed,
            tooltip="Number of samples used for each weight update.")
        gui.doubleSpin(
            box, self, "learning_rate", 0.00001, 1, 0.0001, decimals=5,
            label="Learning rate:", alignment=Qt.AlignRight, controlWidth=90,
            callback=self.settings_changed,
            tooltip="Size of the weight updates. Too high makes training "
                    "unstable; too low makes it slow.")
        gui.checkBox(
            box, self, "early_stopping", "Stop early when validation stops improving",
            callback=[self._enable_early_stopping, self.settings_changed],
            tooltip="Set some training samples aside and stop once the "
                    "network stops getting better on them.")
        self.early_stopping_box = gui.indentedBox(box)
        gui.doubleSpin(
            self.early_stopping_box, self, "validation_fraction", 0.05, 0.5,
            0.05, decimals=2, label="Validation fraction:",
            alignment=Qt.AlignRight, controlWidth=90,
            callback=self.settings_changed,
            tooltip="Fraction of the training samples set aside to watch "
                    "for overfitting.")
        gui.spin(
            self.early_stopping_box, self, "patience", 1, 1000,
            label="Patience (epochs):", alignment=Qt.AlignRight,
            controlWidth=90, callback=self.settings_changed,
            tooltip="How many epochs without improvement to wait "
                    "before stopping.")
        self._enable_early_stopping()
        box = training
        gui.spin(
            box, self, "ensemble_size", 1, 10, label="Networks averaged:",
            alignment=Qt.AlignRight, controlWidth=90,
            callback=self.settings_changed,
            tooltip="How many networks are trained and their predictions "
                    "averaged: automatically, the best few candidates; by "
                    "hand, the same network from different random starts.\n"
                    "More networks give steadier predictions but take "
                    "longer to train.")
        gui.checkBox(
            box, self, "balance_classes", "Balance classes",
            callback=self.settings_changed,
            tooltip="Give rare classes (e.g. a rare tumour type) as much "
                    "weight in training as common ones.")
        gui.checkBox(
            box, self, "replicable", "Replicable training",
            callback=self.settings_changed,
            tooltip="Use a fixed random seed so training again on the same "
                    "data gives the same model.")

    def _enable_early_stopping(self):
        self.early_stopping_box.setEnabled(self.early_stopping)

    def _enable_manual_settings(self):
        """Settings that the automatic choice makes are greyed out."""
        for box in (self.network_box, self.genes_box,
                    self.manual_training_box):
            box.setEnabled(not self.auto_settings)

    def add_bottom_buttons(self):
        super().add_bottom_buttons()
        self.cancel_button = gui.button(
            None, self, "Cancel", callback=self.cancel_training,
            disabled=True, addToLayout=False)
        layout = self.apply_button.layout()
        layout.insertStretch(0, 100)
        layout.insertWidget(0, self.cancel_button)

    # Learner
    def create_learner(self):
        layers = parse_hidden_layers(self.hidden_layers)
        # the automatic choice does not read the (greyed out) hidden layers
        invalid = layers is None and not self.auto_settings
        self.Error.invalid_hidden_layers(shown=invalid)
        if invalid:
            return None
        return self.LEARNER(
            auto=bool(self.auto_settings),
            ensemble_size=self.ensemble_size,
            hidden_layers=layers or DEFAULTS["hidden_layers"],
            activation=self.activation,
            dropout=self.dropout,
            l2=self.l2,
            n_genes=self.n_genes if self.keep_top_genes else None,
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            early_stopping=self.early_stopping,
            validation_fraction=self.validation_fraction,
            patience=self.patience,
            class_weight="balanced" if self.balance_classes else None,
            random_state=REPLICABLE_SEED if self.replicable else None,
            preprocessors=self.preprocessors)

    def get_learner_parameters(self):
        always = [("Networks averaged", self.ensemble_size),
                  ("Balance classes", bool_str(self.balance_classes)),
                  ("Replicable training", bool_str(self.replicable))]
        if self.auto_settings:
            return [("Settings", "chosen by inner cross-validation")] + always
        params = [
            ("Settings", "set by hand"),
            ("Hidden layers", self.hidden_layers),
            ("Activation", self.activation),
            ("Dropout", self.dropout),
            ("L2 regularisation", self.l2),
            ("Genes", f"top {self.n_genes}" if self.keep_top_genes else "all"),
            ("Epochs", self.epochs),
            ("Batch size", self.batch_size),
            ("Learning rate", self.learning_rate),
            ("Early stopping", bool_str(self.early_stopping)),
        ]
        if self.early_stopping:
            params += [("Validation fraction", self.validation_fraction),
                       ("Patience", f"{self.patience} epochs")]
        return params + always

    def check_data(self):
        # Unlike Orange's check, leave data with one class or no genes to
        # the learner, whose errors say what to change
        self.valid_data = False
        if self.data is not None and self.learner is not None:
            reason = self.learner.incompatibility_reason(self.data.domain)
            self.Error.data_error(reason, shown=reason is not None)
            self.valid_data = reason is None
        return self.valid_data

    # Training
    def update_model(self):
        self.cancel_training_task()
        self.show_fitting_failed(None)
        self.Warning.training_notes.clear()
        self.plot.clear()
        self.selection_table.clear()
        self.model = None
        self.phase_label.setText("")
        if self.check_data():
            self._training_started = time.monotonic()
            self.start(train, self.data, self.learner)
            self.cancel_button.setEnabled(True)
        else:
            self._send_model()

    def cancel_training_task(self):
        self.cancel()
        self.cancel_button.setEnabled(False)

    def cancel_training(self):
        """The user stopped training: no model rather than a stale one."""
        self.cancel_training_task()
        self.phase_label.setText("Training cancelled: no model.")
        self.model = None
        self._send_model()

    # the phase follows the running task; a cancelled task's is cut off
    def _connect_signals(self, state):
        super()._connect_signals(state)
        state.status_changed.connect(self._show_phase)

    def _disconnect_signals(self, state):
        super()._disconnect_signals(state)
        state.status_changed.disconnect(self._show_phase)

    def _show_phase(self, phase):
        self.phase_label.setText(f"{phase}…" if phase else "")

    def on_partial_result(self, history):
        self.plot.set_history(history)

    def on_done(self, result):
        model, self.importance_table = result
        self.cancel_button.setEnabled(False)
        self.phase_label.setText(
            "Trained in "
            f"{duration_text(time.monotonic() - self._training_started)}.")
        model.name = self.effective_learner_name()
        model.instances = self.data
        self.model = model
        self.plot.clear()
        self.plot.set_history(
            model.history,
            held_out=VALIDATION if model.selection is None else INNER_CV)
        # early stopping kept the best epoch's weights, or inner
        # cross-validation chose how many epochs to train
        if "val_loss" in model.history:
            self.plot.set_best_epoch(model.best_epoch)
        if model.selection is not None:
            self.selection_table.set_selection(model.selection)
        notes = getattr(model, "training_notes", None)
        self.Warning.training_notes("\n".join(notes), shown=bool(notes))
        self._send_model()

    def on_exception(self, ex):
        self.cancel_button.setEnabled(False)
        self.phase_label.setText("")
        self.model = None
        self.show_fitting_failed(ex)
        self._send_model()

    def _send_model(self):
        super()._send_model()
        trained = self.model is not None
        self.Outputs.gene_importance.send(
            self.importance_table if trained else None)
        self.Outputs.training_history.send(
            training_history_table(self.model.history) if trained else None)

    def onDeleteWidget(self):
        self.shutdown()
        super().onDeleteWidget()

    # Report
    def send_report(self):
        super().send_report()
        if not self.plot.is_empty:
            self.report_plot("Training curves", self.plot)
        if not self.selection_table.is_empty:
            self.report_paragraph("Automatic choice of settings",
                                  self.selection_table.title.text())
            self.report_table(self.selection_table.view)

    @classmethod
    def migrate_settings(cls, settings, version):
        # Version 1 is the first. Settings saved without a version (written
        # by hand or by a script) may use the learner's names and types.
        if version < 1:
            if "auto" in settings:
                settings.setdefault("auto_settings", settings.pop("auto"))
            if "class_weight" in settings:
                settings.setdefault(
                    "balance_classes",
                    settings.pop("class_weight") == "balanced")
            if "random_state" in settings:
                settings.setdefault(
                    "replicable", settings.pop("random_state") is not None)
        elif version < 2:
            # version 1 trained one network with the settings as set
            settings.setdefault("auto_settings", False)
            settings.setdefault("ensemble_size", 1)
        if "n_genes" in settings and settings["n_genes"] is None:
            del settings["n_genes"]
            settings["keep_top_genes"] = False
        layers = settings.get("hidden_layers")
        if isinstance(layers, (int, list, tuple)):
            settings["hidden_layers"] = ", ".join(
                map(str, layers if isinstance(layers, (list, tuple))
                    else [layers]))
        if settings.get("activation", ACTIVATIONS[0]) not in ACTIVATIONS:
            del settings["activation"]
        # a value of the wrong type would stop the controls from opening
        for name, value in list(settings.items()):
            setting = getattr(cls, name, None)
            kind = type(getattr(setting, "default", None))
            if (isinstance(setting, Setting) and kind in (bool, int, float)
                    and type(value) is not kind):
                try:
                    settings[name] = kind(value)
                except (TypeError, ValueError):
                    del settings[name]


if __name__ == "__main__":  # pragma: no cover
    from orangecontrib.neuralgene.datasets import path
    WidgetPreview(OWNeuralGeneClassifier).run(Table(path("khan-srbct-train.tab.gz")))
