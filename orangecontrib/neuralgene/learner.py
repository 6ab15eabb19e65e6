"""Neural Gene Classifier: Orange's learner and model around the network.

Everything learned from data (gene selection, scaling, the network) is fitted
inside ``fit`` on the training rows only, so cross-validation never leaks
test samples into any step. No Qt here; TensorFlow is imported when a
network is first trained or used.
"""
import copy
import inspect
import math
import re
from typing import List, NamedTuple, Optional

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import StratifiedShuffleSplit
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils.class_weight import compute_sample_weight

from Orange.classification import Learner, Model
from Orange.data import DiscreteVariable, Variable
from Orange.data.filter import HasClass
from Orange.preprocess import Continuize, RemoveNaNColumns, SklImpute
from Orange.preprocess.score import LearnerScorer

from orangecontrib.neuralgene.data_checks import (
    InfiniteAsMissing, RowsWithGenes, data_notes, has_missing)
from orangecontrib.neuralgene.gene_scores import anova_f_scores, top_genes
from orangecontrib.neuralgene.importance import gene_importance
from orangecontrib.neuralgene.model_selection import (
    ENSEMBLE_SIZE, Member, ModelSelection, choose_and_train, default_family,
    family_notes)
from orangecontrib.neuralgene.network import (
    NetworkSpec, ScaledSparseExpression, TrainingConfig)
from orangecontrib.neuralgene.sparse_expression import (
    fill_missing_with_means, fit_scaler, float32_sparse_copy, kept_columns,
    row_blocks, rows_per_block, smaller_dense, stored_values)
from orangecontrib.neuralgene.tensors import float32_copy
from orangecontrib.neuralgene.training import train_network

__all__ = ["NeuralGeneClassifierLearner", "NeuralGeneClassifierModel",
           "DEFAULT_PARAMETERS", "ACTIVATIONS", "EpochProgress"]

ACTIVATIONS = ("relu", "elu", "gelu", "selu", "tanh", "sigmoid")

_EPOCH_MESSAGE = re.compile(
    r"(?:Network (\d+) of (\d+): e|E)poch (\d+) of (\d+)$")


class EpochProgress(NamedTuple):
    """Where training by hand is, as its progress messages say it: "Epoch 3
    of 10" for a single network, "Network 2 of 5: epoch 3 of 10" for one of
    several. Orange's progress callback takes a fraction and a text, so the
    text carries it."""
    epoch: int
    n_epochs: int
    network: int = 0  # counted from 0
    n_networks: int = 1

    def message(self) -> str:
        if self.n_networks == 1:
            return f"Epoch {self.epoch} of {self.n_epochs}"
        return (f"Network {self.network + 1} of {self.n_networks}: "
                f"epoch {self.epoch} of {self.n_epochs}")

    @classmethod
    def from_message(cls, message: str) -> Optional["EpochProgress"]:
        """The progress that ``message`` reports; None if it is no epoch's."""
        found = _EPOCH_MESSAGE.match(message)
        if found is None:
            return None
        network, n_networks, epoch, n_epochs = found.groups()
        return cls(int(epoch), int(n_epochs),
                   int(network) - 1 if network else 0,
                   int(n_networks) if n_networks else 1)


# Scaled values are clipped to this many standard deviations from the
# training mean: a sample far outside anything seen in training (a typo,
# 1e30) must not overflow float32 into undefined probabilities
MOST_STANDARD_DEVIATIONS = 1e4

# Orange's usual preprocessing, each step skipped where it would change
# nothing: rebuilding a table of a few thousand genes costs a fifth of a
# second per step, paid on every fold of a cross-validation, and a copy of
# the whole table.

class RowsWithClass(HasClass):
    def __call__(self, data):
        if not np.isnan(data.Y).any():
            return data
        return super().__call__(data)


class OneHotCategorical(Continuize):
    def __call__(self, data):
        if all(var.is_continuous for var in data.domain.attributes):
            return data
        return super().__call__(data)


class RemoveEmptyGenes(RemoveNaNColumns):
    def __call__(self, data, threshold=None):
        if sp.issparse(data.X) or not has_missing(data.X) \
                or not np.isnan(data.X).all(axis=0).any():
            return data
        return super().__call__(data, threshold)


class ImputeMissingValues(SklImpute):
    """Mean imputation; the model itself fills values missing at prediction
    with the training mean when training data had none missing. Sparse
    data are filled in on their stored values and keep their domain, so
    the model fills their missing values too: Orange's imputation rebuilds
    a sparse table one gene at a time."""
    def __call__(self, data):
        if not len(data):
            return data
        if sp.issparse(data.X):
            if not np.isnan(data.X.data).any():
                return data
            filled = data.copy()
            with filled.unlocked_reference(filled.X):
                filled.X = fill_missing_with_means(data.X)
            return filled
        if not has_missing(data.X):
            return data
        return super().__call__(data)


class NeuralGeneClassifierModel(Model):
    """An ensemble of trained networks with the gene selection and scaling
    they were fitted with; ``predict`` applies them to new samples and
    averages the networks' probabilities.

    ``selection`` records the automatic choice (``ModelSelection``: every
    candidate's inner cross-validation accuracy and log loss, and which were
    chosen); it is None for models trained with manual settings.
    """

    def __init__(self, domain, members: List[Member],
                 trained_classes: np.ndarray, selected_genes: np.ndarray,
                 scaler: StandardScaler, gene_scores: np.ndarray,
                 history: dict, best_epoch: int, training_notes: List[str],
                 log_transform: bool = False,
                 selection: Optional[ModelSelection] = None):
        super().__init__(domain)
        self.members = members
        self.trained_classes = trained_classes
        self.selected_genes = selected_genes
        self.scaler = scaler
        self.gene_scores = gene_scores
        self.history = history
        self.best_epoch = best_epoch
        self.training_notes = training_notes
        self.log_transform = log_transform
        self.selection = selection

    def __setstate__(self, state):
        if "members" not in state:  # saved by version 0.1.0: one network
            network = state.pop("network")
            state["members"] = [Member(network, np.arange(
                len(state["selected_genes"])))]
        state.setdefault("log_transform", False)
        state.setdefault("selection", None)
        self.__dict__.update(state)

    @property
    def network(self):
        """The first (in automatic mode, the best) network of the ensemble."""
        return self.members[0].network

    @property
    def n_epochs_trained(self):
        return len(self.history["loss"])

    def network_input(self, X):
        """What the networks see of samples X: the kept genes, scaled."""
        X = _dense_float32(X[:, self.selected_genes])
        if self.log_transform:
            _log_counts(X)
        X[np.isinf(X)] = np.nan  # the scaler refuses infinities
        with np.errstate(over="ignore"):  # far beyond float32: clipped below
            X = self.scaler.transform(X)
        # the imputer of Orange's preprocessing fills missing values; what is
        # still not finite (e.g. infinities, genes the data lack) is set to
        # the training mean
        X[~np.isfinite(X)] = 0
        return _clip_outliers(X)

    def predict(self, X):
        if sp.issparse(X):
            # sparse samples are made dense a block of rows at a time
            X = sp.csr_matrix(X)
            return np.concatenate([
                self._dense_predict(X[rows]) for rows in row_blocks(
                    X.shape[0], len(self.selected_genes))])
        return self._dense_predict(X)

    def _dense_predict(self, X):
        X = self.network_input(X)
        probs = np.mean([member.network.predict_proba(X[:, member.columns])
                         for member in self.members], axis=0)
        all_classes = np.zeros((len(X), len(self.domain.class_var.values)))
        all_classes[:, self.trained_classes] = probs
        return all_classes

    def __repr__(self):
        return (f"{type(self).__name__}(genes={len(self.selected_genes)}, "
                f"classes={len(self.trained_classes)}, "
                f"networks={len(self.members)})")


class NeuralGeneClassifierLearner(Learner, LearnerScorer):
    """A regularised neural network for samples × genes tables.

    By default (``auto=True``) the learner chooses for itself, by stratified
    inner cross-validation on the training samples, how many genes to keep,
    whether to use a hidden layer, how strong the L2 penalty is and how many
    epochs to train (see ``model_selection``), and averages the
    probabilities of the ``ensemble_size`` best candidates, each trained on
    all the training samples. Count data (no negative values, some above 100)
    are log-transformed first. The choice is recorded in the model's
    ``selection``.

    With ``auto=False``, the network is trained with the settings below,
    ``ensemble_size`` times with different seeds.

    Parameters
    ----------
    auto : bool
        Choose genes, network, penalty and epochs by inner cross-validation;
        ``hidden_layers``, ``dropout``, ``l2``, ``n_genes``, ``epochs``,
        ``learning_rate``, ``batch_size``, ``early_stopping``,
        ``validation_fraction`` and ``patience`` then apply to ``auto=False``
        only.
    ensemble_size : int
        Networks whose probabilities are averaged (automatically: at most
        as many as the family has candidates; one where the choice falls
        back to fixed settings).
    hidden_layers : tuple of int
        Number of neurons in each hidden layer.
    activation : str
        Activation of hidden neurons, one of ``ACTIVATIONS``.
    dropout : float
        Fraction of hidden neurons switched off at random in each step.
    l2 : float
        Strength of the L2 penalty on the weights.
    n_genes : int or None
        Keep the ``n_genes`` genes with the highest ANOVA F score on the
        training samples; ``None`` keeps all genes.
    epochs, batch_size, learning_rate :
        Adam optimisation: passes over the data, samples per step, step size.
    early_stopping : bool
        Hold out a stratified ``validation_fraction`` of the training samples
        and stop once their loss has not improved for ``patience`` epochs,
        keeping the weights of the best epoch.
    class_weight : "balanced" or None
        Weight samples inversely to their class frequency.
    random_state : int or None
        Seed for replicable training; ``None`` gives a different network
        on every fit.
    preprocessors :
        Orange preprocessors applied before the learner's own imputation,
        one-hot encoding, gene selection and scaling (which always run).
    """
    __returns__ = NeuralGeneClassifierModel
    name = "neural gene classifier"
    supports_weights = True
    preprocessors = (RowsWithClass(), InfiniteAsMissing(), RowsWithGenes(),
                     OneHotCategorical(), RemoveEmptyGenes(),
                     ImputeMissingValues())
    # what Rank may score with it: genes of any type, categorical targets
    feature_type = Variable
    class_type = DiscreteVariable

    def __init__(self, auto=True, ensemble_size=ENSEMBLE_SIZE,
                 hidden_layers=(64,), activation="relu", dropout=0.5,
                 l2=1e-4, n_genes=200, epochs=200, batch_size=32,
                 learning_rate=1e-3, early_stopping=True,
                 validation_fraction=0.1, patience=20, class_weight=None,
                 random_state=0, preprocessors=None):
        super().__init__(preprocessors=preprocessors)
        # a connected preprocessor adds to the default pipeline, so that
        # e.g. a Normalize in the widget does not silently drop imputation
        self.use_default_preprocessors = True
        self.auto = auto
        self.ensemble_size = ensemble_size
        self.hidden_layers = hidden_layers
        self.activation = activation
        self.dropout = dropout
        self.l2 = l2
        self.n_genes = n_genes
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.class_weight = class_weight
        self.random_state = random_state
        self._progress_callback = None
        self._epoch_callback = None
        self._data_notes = None

    @property
    def params(self):
        return {name: getattr(self, name) for name in DEFAULT_PARAMETERS}

    def incompatibility_reason(self, domain):
        if len(domain.class_vars) > 1:
            return ("Neural Gene Classifier predicts one target at a time; "
                    "choose one with Select Columns.")
        if domain.class_var is None:
            return ("Data has no target variable (e.g. tumour type); "
                    "choose one with Select Columns.")
        if not domain.class_var.is_discrete:
            return (f"Neural Gene Classifier predicts categories, but the "
                    f"target '{domain.class_var.name}' is numeric; choose a "
                    f"categorical target with Select Columns.")
        return None

    def __call__(self, data, progress_callback=None, epoch_callback=None):
        """Fit a model. With ``auto=False``, ``epoch_callback(epoch,
        n_epochs, logs)`` is called after every epoch of the first network
        and may raise to abort training; the automatic choice reports
        through ``progress_callback`` every ten epochs instead."""
        learner = copy.copy(self)  # fits in other threads keep their own notes
        learner._progress_callback = progress_callback
        learner._epoch_callback = epoch_callback
        learner._data_notes = []
        return super(NeuralGeneClassifierLearner, learner).__call__(
            data, progress_callback)

    def preprocess(self, data, progress_callback=None):
        """Orange's preprocessing; before the learner's own steps, notes
        what they will leave out or fill in, for the model's training notes."""
        steps = list(self.active_preprocessors)
        for i, step in enumerate(steps):
            if progress_callback is not None:
                progress_callback(i / len(steps))
            if step is type(self).preprocessors[0] \
                    and self._data_notes is not None:
                self._data_notes.extend(data_notes(
                    data, advise_log_transform=not self.auto))
            data = step(data)
        if progress_callback is not None:
            progress_callback(1)
        return data

    def score(self, data):
        """Overall importance of every gene, for Rank; see ``importance``.
        Orange's LearnerScorer maps the model's columns back to data's."""
        model = self(data)
        return gene_importance(model, data).overall, model.domain.attributes

    def fit(self, X, Y, W=None):
        self._check_parameters()
        Y = np.asarray(Y).ravel()
        if not len(Y):
            raise ValueError(
                "No samples to train on: the data are empty or no sample has "
                "a known class. Fill in the classes, or choose another "
                "target with Select Columns.")
        trained_classes, y = np.unique(Y.astype(int), return_inverse=True)
        if len(trained_classes) < 2:
            raise ValueError(
                "Training needs samples of at least two classes; these data "
                "have only one. Add samples of another class, or choose "
                "another target with Select Columns.")
        if not X.shape[1]:
            raise ValueError(
                "No genes to train on: the data have no gene columns, or no "
                "gene has a value in any sample. Check which columns File "
                "reads as features.")
        X = (float32_sparse_copy(X) if sp.issparse(X) and not smaller_dense(X)
             else _dense_float32(X))
        if not np.all(np.isfinite(stored_values(X))):
            raise ValueError(
                "The data contain missing or infinite values; train with "
                "the learner itself, whose preprocessing fills them in, "
                "rather than with fit.")
        notes = list(self._data_notes or [])
        weights = _sample_weights(W, y, self.class_weight)
        n_single = int(np.sum(np.bincount(y) == 1))
        if n_single:
            notes.append(
                f"Only one training sample in {n_single} of the "
                f"{len(trained_classes)} classes: the network can hardly "
                "learn them.")
        seed = check_random_state(self.random_state).randint(2 ** 30)
        fit = self._fit_automatic if self.auto else self._fit_manual
        model = fit(X, y, weights, seed, notes)
        model.trained_classes = trained_classes
        if not np.any(model.scaler.var_ > 0):
            notes.append(
                "Every gene kept for training has the same value in all "
                "samples: the network can only learn how common each "
                "class is.")
        return model

    def _fit_automatic(self, X, y, weights, seed, notes):
        log_transform = _looks_like_counts(X)
        if log_transform:
            _log_counts(X)
            notes.append("Values look like counts (none negative, some "
                         "above 100): genes were log-transformed, log(1 + x).")
        selection, selected, scaler, members, history = choose_and_train(
            X, y, weights, default_family(X.shape[1], X.shape[0]), seed,
            ensemble_size=int(self.ensemble_size),
            progress=self._report_progress)
        notes.extend(family_notes(X.shape[1], X.shape[0]) + selection.notes)
        best_epoch = selection.chosen[0].epochs
        inner = selection.held_out_curve
        if inner is not None:
            history = dict(history, val_loss=inner[0].tolist(),
                           val_accuracy=inner[1].tolist())
        return NeuralGeneClassifierModel(
            None, members, None, selected, scaler, None, history,
            best_epoch, notes, log_transform, selection)

    def _fit_manual(self, X, y, weights, seed, notes):
        selected, gene_scores = self._select_genes(X, y)
        X, scaler = _standardize(X, selected)
        spec = NetworkSpec(
            n_inputs=X.shape[1], n_classes=int(y.max()) + 1,
            hidden_layers=tuple(int(w) for w in
                                np.atleast_1d(self.hidden_layers)),
            activation=self.activation, dropout=float(self.dropout),
            l2=float(self.l2))
        members, outcomes = [], []
        n_networks = int(self.ensemble_size)
        for i in range(n_networks):
            train_rows, validation_rows = self._validation_split(
                y, seed + i, notes if i == 0 else [])
            config = TrainingConfig(
                epochs=int(self.epochs), batch_size=int(self.batch_size),
                learning_rate=float(self.learning_rate),
                patience=int(self.patience), seed=seed + i)
            outcome = train_network(
                X, y, spec, config, sample_weight=weights,
                train_rows=train_rows, validation_rows=validation_rows,
                epoch_callback=self._epoch_reporter(i, n_networks))
            members.append(Member(outcome.network, np.arange(X.shape[1])))
            outcomes.append(outcome)
        return NeuralGeneClassifierModel(
            None, members, None, selected, scaler, gene_scores,
            outcomes[0].history, outcomes[0].best_epoch, notes)

    def _report_progress(self, fraction, message):
        if self._progress_callback is not None:
            self._progress_callback(0.1 + 0.9 * fraction, message)

    def _epoch_reporter(self, network, n_networks):
        """The epoch callback of the ``network``-th of ``n_networks`` trained
        by hand: progress over all of them; the first network's epochs also
        reach the caller's epoch callback (its curves are the model's)."""
        def report(epoch, n_epochs, logs):
            if self._progress_callback is not None:
                self._progress_callback(
                    0.1 + 0.9 * (network + epoch / n_epochs) / n_networks,
                    EpochProgress(epoch, n_epochs, network,
                                  n_networks).message())
            if network == 0 and self._epoch_callback is not None:
                self._epoch_callback(epoch, n_epochs, logs)
        return report

    def _select_genes(self, X, y):
        """Indices of the genes kept, and every gene's ANOVA F score (None
        when all genes are kept)."""
        n_genes = X.shape[1] if self.n_genes is None else int(self.n_genes)
        if n_genes >= X.shape[1]:
            return np.arange(X.shape[1]), None
        scores = anova_f_scores(X, y)
        return top_genes(scores, n_genes), scores

    def _validation_split(self, y, seed, notes):
        """Rows to train on and rows of a stratified validation split for
        early stopping (None where the data are too small for one)."""
        all_rows = np.arange(len(y))
        if not self.early_stopping:
            return all_rows, None
        n_classes = y.max() + 1
        n_validation = max(math.ceil(self.validation_fraction * len(y)),
                           n_classes)
        if np.bincount(y).min() < 2 or len(y) - n_validation < n_classes:
            notes.append(
                "Too few samples per class for a validation split: trained "
                f"for all {self.epochs} epochs without early stopping.")
            return all_rows, None
        splitter = StratifiedShuffleSplit(
            n_splits=1, test_size=n_validation, random_state=seed)
        return next(splitter.split(np.zeros((len(y), 1)), y))

    def _check_parameters(self):
        def fail(what):
            raise ValueError(f"Neural Gene Classifier: {what}")

        if not all(isinstance(w, (int, np.integer)) and w > 0
                   for w in np.atleast_1d(self.hidden_layers)):
            fail("hidden layers must be positive whole numbers of neurons, "
                 f"not {self.hidden_layers!r}.")
        if self.activation not in ACTIVATIONS:
            fail(f"activation must be one of {', '.join(ACTIVATIONS)}.")
        if not 0 <= self.dropout < 1:
            fail("dropout must be at least 0 and below 1.")
        if self.l2 < 0:
            fail("L2 regularisation cannot be negative.")
        if self.n_genes is not None and self.n_genes < 1:
            fail("the number of genes to keep must be at least 1 "
                 "(or None for all genes).")
        if self.epochs < 1 or self.batch_size < 1 or self.patience < 1:
            fail("epochs, batch size and patience must be at least 1.")
        if not self.learning_rate > 0:
            fail("the learning rate must be positive.")
        if self.early_stopping and not 0 < self.validation_fraction < 1:
            fail("the validation fraction must be between 0 and 1.")
        if not (isinstance(self.ensemble_size, (int, np.integer))
                and self.ensemble_size >= 1):
            fail("the ensemble size must be a whole number of at least 1.")
        if self.class_weight not in (None, "balanced"):
            fail("class_weight must be 'balanced' or None.")


DEFAULT_PARAMETERS = {
    name: parameter.default for name, parameter in inspect.signature(
        NeuralGeneClassifierLearner.__init__).parameters.items()
    if name not in ("self", "preprocessors")}


# Samples at a time for the scaling statistics: the scaler's float64
# temporaries of chunks this small stay in the processor's cache
_SCALING_CHUNK_ELEMENTS = 2 ** 19
# Count data (reads, UMIs, unlogged intensities) have no negative values and
# reach far above this; log-scale expression rarely passes 20
_COUNTS_ABOVE = 100


def _looks_like_counts(X):
    return X.size > 0 and X.min() >= 0 and X.max() > _COUNTS_ABOVE


def _log_counts(X):
    """log(1 + x) in place; negative values (not counts) are left as they
    are. Zeros stay zeros, so sparse X stays as sparse."""
    values = stored_values(X)
    np.log1p(values, out=values, where=values > -1)


def _standardize(X, selected):
    """The networks' input from the kept genes of X (fit's own copy), scaled
    to zero mean and unit variance with outliers clipped, and the fitted
    scaler. Dense genes are scaled in place; all genes of sparse X stay
    sparse, and the network scales a batch of them at a time."""
    if len(selected) < X.shape[1]:
        X = kept_columns(X, selected)
    if sp.issparse(X):
        scaler = fit_scaler(X)
        return ScaledSparseExpression(X, scaler.mean_, scaler.scale_,
                                      MOST_STANDARD_DEVIATIONS), scaler
    scaler = StandardScaler(copy=False)
    step = rows_per_block(X.shape[1], _SCALING_CHUNK_ELEMENTS)
    for start in range(0, len(X), step):
        scaler.partial_fit(X[start:start + step])
    return _clip_outliers(scaler.transform(X)), scaler


def _dense_float32(X):
    """A float32 copy of X that fit may change in place."""
    if sp.issparse(X):
        X = X.tocsr()
    with np.errstate(over="ignore"):  # beyond float32 becomes infinite
        return float32_copy(X)


def _clip_outliers(X):
    return np.clip(X, -MOST_STANDARD_DEVIATIONS, MOST_STANDARD_DEVIATIONS,
                   out=X)


def _sample_weights(W, y, class_weight):
    weights = np.ones(len(y)) if W is None else np.asarray(W, float).ravel()
    if class_weight == "balanced":
        weights = weights * compute_sample_weight("balanced", y)
    return weights.astype(np.float32)
