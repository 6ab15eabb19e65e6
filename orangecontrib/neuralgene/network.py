"""Keras network for gene expression classification: its architecture, its
weights, and training it on one device with the add-on's own loop, from a
dense matrix or from sparse expression made dense a batch at a time.

Numpy and scipy in, numpy out; knows neither Orange nor Qt. TensorFlow is
imported on first use (through ``tensorflow_startup``), never at module
import. Training goes through ``training.train_network``, which picks this
loop or, over several devices, the replicated steps of ``distributed``;
both follow ``training_rules``.
"""
import threading
from dataclasses import dataclass
from typing import Callable, Dict, List, Tuple

import numpy as np
import scipy.sparse as sp

from orangecontrib.neuralgene import sparse_batches
from orangecontrib.neuralgene.sparse_expression import rows_per_block
from orangecontrib.neuralgene.tensorflow_startup import import_keras
from orangecontrib.neuralgene.tensors import as_tensor, float32_copy
from orangecontrib.neuralgene.training_rules import (
    LOGGED, TrainingDiverged, run_epochs, sample_weights, weighted_sums)

__all__ = ["NetworkSpec", "TrainingConfig", "TrainedNetwork",
           "TrainingOutcome", "TrainingDiverged", "EpochCallback",
           "ScaledSparseExpression", "build_network", "initialize_weights",
           "train_on_one_device", "clear_trainer_pool"]

# Called after every epoch with (epoch, n_epochs, logs); raising aborts training.
EpochCallback = Callable[[int, int, Dict[str, float]], None]


@dataclass(frozen=True)
class NetworkSpec:
    """Architecture of a multilayer perceptron with a softmax output."""
    n_inputs: int
    n_classes: int
    hidden_layers: Tuple[int, ...]
    activation: str
    dropout: float
    l2: float

    @property
    def n_weights(self) -> int:
        widths = (self.n_inputs, *self.hidden_layers, self.n_classes)
        return sum((n_in + 1) * n_out
                   for n_in, n_out in zip(widths, widths[1:]))


@dataclass(frozen=True, eq=False)
class ScaledSparseExpression:
    """Samples × genes stored sparse, which the network reads standardized,
    ``(X - center) / scale`` clipped to ±``limit``.

    The one-device loop makes the rows of one batch (or of one block of
    validation rows) dense and scaled at a time, inside its graph, so the
    whole table is never dense. Whatever reads it as an array
    (``np.asarray``), as training over several devices (``distributed``)
    does, gets the whole table dense and scaled.
    """
    X: sp.csr_matrix
    center: np.ndarray
    scale: np.ndarray
    limit: float

    @property
    def shape(self):
        return self.X.shape

    def __len__(self):
        return self.X.shape[0]

    def __array__(self, dtype=None, copy=None):
        with np.errstate(over="ignore"):  # beyond float32: clipped below
            X = float32_copy(self.X)
            X -= self.center.astype(np.float32)
            X /= self.scale.astype(np.float32)
        np.clip(X, -self.limit, self.limit, out=X)
        return X if dtype is None else X.astype(dtype, copy=False)


@dataclass(frozen=True)
class TrainingConfig:
    epochs: int
    batch_size: int
    learning_rate: float
    patience: int
    seed: int


class TrainedNetwork:
    """Trained weights with the architecture to apply them; pickles as numpy.

    Only the weights and the architecture are pickled, so a saved model
    loads without TensorFlow until it predicts.
    """

    def __init__(self, spec: NetworkSpec, weights: List[np.ndarray]):
        self.spec = spec
        self.weights = weights
        self._keras_activation = None
        self._lock = threading.Lock()

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities of samples X (already selected and scaled).

        The layers are applied with numpy and Keras's activation functions
        rather than through a Keras model: building one costs a tenth of a
        second, paid by every model of a cross-validation."""
        X = np.asarray(X, dtype=np.float32)
        if len(X) == 0:
            return np.zeros((0, self.spec.n_classes))
        activation = self._activation()
        layers = list(zip(self.weights[::2], self.weights[1::2]))
        for kernel, bias in layers[:-1]:
            X = np.asarray(activation(X @ kernel + bias), dtype=np.float32)
        kernel, bias = layers[-1]
        logits = (X @ kernel + bias).astype(np.float64)
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        # cumsum adds in a fixed order, so results do not depend on memory
        # alignment (np.sum's SIMD path does)
        return probs / np.cumsum(probs, axis=1)[:, -1:]

    def _activation(self):
        with self._lock:
            if self._keras_activation is None:
                keras = import_keras()
                self._keras_activation = keras.activations.get(
                    self.spec.activation)
            return self._keras_activation

    def __getstate__(self):
        return {"spec": self.spec, "weights": self.weights}

    def __setstate__(self, state):
        self.__init__(state["spec"], state["weights"])


def build_network(spec: NetworkSpec):
    """The Keras model; the L2 penalty is left to the training step."""
    keras = import_keras()
    layers = [keras.Input(shape=(spec.n_inputs,))]
    for width in spec.hidden_layers:
        layers.append(keras.layers.Dense(width, activation=spec.activation))
        if spec.dropout > 0:
            layers.append(keras.layers.Dropout(spec.dropout))
    layers.append(keras.layers.Dense(spec.n_classes, activation="softmax"))
    return keras.Sequential(layers)


def initialize_weights(model, seed: int):
    """Fresh weights and dropout seeds, a function of ``seed`` alone."""
    keras = import_keras()
    import tensorflow as tf

    for i, layer in enumerate(model.layers):
        if isinstance(layer, keras.layers.Dense):
            layer.kernel.assign(keras.initializers.GlorotUniform(
                seed=seed + i)(layer.kernel.shape))
            layer.bias.assign(tf.zeros_like(layer.bias))
        elif isinstance(layer, keras.layers.Dropout):
            layer.seed_generator.state.assign(
                tf.constant([seed + i, 0], layer.seed_generator.state.dtype))


# ---------------------------------------------------------------------------
# Training

@dataclass
class TrainingOutcome:
    network: TrainedNetwork
    history: Dict[str, List[float]]
    best_epoch: int


def train_on_one_device(X, y, spec, config, sample_weight, train_rows,
                        validation_rows, epoch_callback) -> TrainingOutcome:
    """``training.train_network``, with its arguments, where no strategy
    spans several devices.

    Rows are picked inside the training graph, so X is never copied in
    parts; on the CPU a C-ordered float32 X (``tensors.float32_copy``) is
    not copied at all. A ``ScaledSparseExpression`` X stays sparse: a batch
    of its rows, or a block of its validation rows, is made dense and
    scaled at a time.
    """
    trainer = _TrainerPool.take(spec)
    try:
        return trainer.train(X, y, config, sample_weight, train_rows,
                             validation_rows, epoch_callback)
    finally:
        _TrainerPool.give_back(trainer)


def clear_trainer_pool() -> int:
    """Drop the idle trainers kept for reuse, with their Keras models and
    traced graphs, and say how many there were. Training afterwards builds
    new ones; call it to free their memory (a few copies of the largest
    network trained) or after changing Keras's global settings."""
    return _TrainerPool.clear()


class _TrainerPool:
    """Idle trainers by architecture, so that cross-validation folds reuse one
    traced training step instead of paying Keras's build and tracing costs
    on every fold. A trainer is used by one thread at a time."""
    _idle: Dict[NetworkSpec, "_Trainer"] = {}
    _lock = threading.Lock()
    max_idle = 4

    @classmethod
    def take(cls, spec: NetworkSpec) -> "_Trainer":
        with cls._lock:
            trainer = cls._idle.pop(spec, None)
        return trainer if trainer is not None else _Trainer(spec)

    @classmethod
    def give_back(cls, trainer: "_Trainer"):
        with cls._lock:
            cls._idle.pop(trainer.spec, None)
            cls._idle[trainer.spec] = trainer
            while len(cls._idle) > cls.max_idle:
                del cls._idle[next(iter(cls._idle))]

    @classmethod
    def clear(cls) -> int:
        with cls._lock:
            n_idle = len(cls._idle)
            cls._idle.clear()
        return n_idle


class _Trainer:
    """A Keras model, its optimizer and one traced epoch of training.

    Every epoch, batches included, runs as a single ``tf.function`` call:
    Keras's ``fit`` spends tens of milliseconds per epoch in Python and
    callbacks, which dominates on expression data of a few hundred samples.
    Nor does ``fit`` catch up with the options that move that work into
    the graph: per epoch of the wide benchmark (``benchmarks/backends.py``,
    one run on a busy 2-core CPU) it took 6.1 s plain, 5.9 s with
    ``steps_per_execution`` (an epoch per call), 6.1 s with ``jit_compile``
    and 5.2 s with both, against 2.1 s for this loop, which has XLA fuse
    only the optimizer's update. Sparse expression
    (``ScaledSparseExpression``) has an epoch of its own, traced when first
    met.
    """

    fuse_update = True
    fuse_from_weights = 2 ** 16

    def __init__(self, spec: NetworkSpec):
        keras = import_keras()
        import tensorflow as tf

        self.spec = spec
        self.model = build_network(spec)
        self.optimizer = keras.optimizers.Adam()
        self.optimizer.build(self.model.trainable_variables)
        self._best_weights = [
            tf.Variable(v, trainable=False)
            for v in self.model.trainable_variables]

        features = tf.TensorSpec([None, spec.n_inputs], tf.float32)
        labels = tf.TensorSpec([None], tf.int32)
        weights = tf.TensorSpec([None], tf.float32)
        # XLA fuses Adam's dozen elementwise passes over each weight matrix
        # into one; on wide data that halves the time of an epoch, while
        # on small networks its launch costs more than it saves
        fuse = (self.fuse_update and tf.test.is_built_with_xla()
                and spec.n_weights >= self.fuse_from_weights)
        self._apply_update = tf.function(
            self._update, autograph=False, jit_compile=fuse)
        # the loop is written as tf.while_loop, so AutoGraph's conversion
        # (half of the tracing time) is not needed; the traced graph is
        # called directly, as tf.function's dispatch on every call costs
        # more than a small epoch does
        self._run_epoch = tf.function(
            self._epoch, autograph=False, input_signature=[
                features, labels, weights, labels, features, labels, weights,
                tf.TensorSpec([], tf.int32), tf.TensorSpec([2], tf.int32)]
        ).get_concrete_function()
        self._run_sparse_epoch = None
        self._keep_best = tf.function(
            self._copy_weights(to_best=True)).get_concrete_function()
        self._restore_best = tf.function(
            self._copy_weights(to_best=False)).get_concrete_function()

    def _sparse_epoch_function(self):
        import tensorflow as tf

        if self._run_sparse_epoch is None:
            genes = tf.TensorSpec([self.spec.n_inputs], tf.float32)
            labels = tf.TensorSpec([None], tf.int32)
            count = tf.TensorSpec([], tf.int32)
            self._run_sparse_epoch = tf.function(
                self._sparse_epoch, autograph=False, input_signature=[
                    *sparse_batches.csr_signature(), genes, genes,
                    tf.TensorSpec([], tf.float32), labels,
                    tf.TensorSpec([None], tf.float32), labels, count, labels,
                    count, tf.TensorSpec([2], tf.int32)]
            ).get_concrete_function()
        return self._run_sparse_epoch

    def _copy_weights(self, to_best):
        def copy():
            for live, best in zip(self.model.trainable_variables,
                                  self._best_weights):
                if to_best:
                    best.assign(live)
                else:
                    live.assign(best)
        return copy

    def _weighted_sums(self, X, y, w, training):
        return weighted_sums(self.model, X, y, w, training)

    def _update(self, gradients):
        import tensorflow as tf

        variables = self.model.trainable_variables
        if self.spec.l2 > 0:
            # the L2 penalty's gradient added here rather than as a Keras
            # regularizer, so that it joins the fused update
            gradients = [
                g + (2 * self.spec.l2) * v if len(v.shape) == 2 else g
                for g, v in zip(gradients, variables)]
        self.optimizer.apply(gradients, variables)
        return tf.constant(True)

    def _train_epoch(self, batch_input, y, w, rows, batch_size, seed,
                     **loop_options):
        """One epoch of updates, on ``rows`` shuffled; ``batch_input``
        gives the network's input for a batch of rows. Returns the
        ``_weighted_sums`` over the batches."""
        import tensorflow as tf

        n = tf.shape(rows)[0]
        order = tf.random.experimental.stateless_shuffle(rows, seed)
        variables = self.model.trainable_variables

        def train_on_batch(start, epoch_sums):
            batch = order[start:start + batch_size]
            with tf.GradientTape() as tape:
                sums = self._weighted_sums(
                    batch_input(batch), tf.gather(y, batch),
                    tf.gather(w, batch), training=True)
                loss = sums[0] / tf.maximum(sums[2], 1e-12)
            updated = self._apply_update(tape.gradient(loss, variables))
            with tf.control_dependencies([updated]):
                return start + batch_size, epoch_sums + sums

        _, sums = tf.while_loop(
            lambda start, _: start < n, train_on_batch,
            (tf.constant(0), tf.zeros([3])), **loop_options)
        return sums

    def _epoch(self, X, y, w, rows, X_val, y_val, w_val, batch_size, seed):
        import tensorflow as tf

        sums = self._train_epoch(lambda batch: tf.gather(X, batch), y, w,
                                 rows, batch_size, seed)
        return _mean_scores(
            sums, self._weighted_sums(X_val, y_val, w_val, training=False))

    def _sparse_epoch(self, indptr, indices, values, shape, center, scale,
                      limit, y, w, validation_rows, block_rows, rows,
                      batch_size, seed):
        """``_epoch`` on sparse expression: the rows of a batch, or of a
        block of validation rows, are made dense and scaled at a time."""
        import tensorflow as tf

        csr = (indptr, indices, values, shape)

        def scaled_rows(which):
            dense = tf.ensure_shape(sparse_batches.dense_rows(csr, which),
                                    [None, self.spec.n_inputs])
            return tf.clip_by_value((dense - center) / scale, -limit, limit)

        # one batch dense at a time: TensorFlow would otherwise make the
        # next ones ready while the weights are updated
        sums = self._train_epoch(scaled_rows, y, w, rows, batch_size, seed,
                                 parallel_iterations=1)
        return _mean_scores(sums, self._blockwise_sums(
            scaled_rows, y, w, validation_rows, block_rows))

    def _blockwise_sums(self, rows_input, y, w, rows, block_rows):
        """``_weighted_sums`` over ``rows``, ``block_rows`` of them at a
        time, without dropout."""
        import tensorflow as tf

        def add_block(start, sums):
            block = rows[start:start + block_rows]
            return start + block_rows, sums + self._weighted_sums(
                rows_input(block), tf.gather(y, block), tf.gather(w, block),
                training=False)

        return tf.while_loop(
            lambda start, _: start < tf.size(rows), add_block,
            (tf.constant(0), tf.zeros([3])), parallel_iterations=1)[1]

    def _reset(self, config: TrainingConfig):
        """Fresh weights and optimizer state, the same for a given seed
        whether this trainer is new or reused."""
        import tensorflow as tf

        initialize_weights(self.model, config.seed)
        for variable in self.optimizer.variables:
            variable.assign(tf.zeros_like(variable))
        self.optimizer.learning_rate = config.learning_rate

    def _dense_epochs(self, X, y, w, validation_rows):
        """The epoch on dense X, as a function of the training rows, the
        batch size and the seed."""
        import tensorflow as tf

        X_val = tf.convert_to_tensor(np.asarray(
            X[validation_rows], np.float32).reshape(-1, self.spec.n_inputs))
        y_val = tf.convert_to_tensor(np.asarray(y, np.int32)[validation_rows])
        w_val = tf.convert_to_tensor(w[validation_rows])
        X = as_tensor(X)
        y = tf.convert_to_tensor(np.asarray(y, dtype=np.int32))
        w = tf.convert_to_tensor(w)

        def run_epoch(rows, batch_size, seed):
            return self._run_epoch(X, y, w, rows, X_val, y_val, w_val,
                                   batch_size, seed)
        return run_epoch

    def _sparse_epochs(self, X: ScaledSparseExpression, y, w,
                       validation_rows):
        """``_dense_epochs`` for sparse expression."""
        import tensorflow as tf

        run = self._sparse_epoch_function()
        block_rows = rows_per_block(X.shape[1],
                                    sparse_batches.BLOCK_ELEMENTS)
        inputs = (*sparse_batches.csr_tensors(X.X),
                  tf.constant(np.asarray(X.center, np.float32)),
                  tf.constant(np.asarray(X.scale, np.float32)),
                  tf.constant(X.limit, tf.float32),
                  tf.constant(np.asarray(y, np.int32)), tf.constant(w),
                  tf.constant(np.asarray(validation_rows, np.int32)),
                  tf.constant(block_rows, tf.int32))

        def run_epoch(rows, batch_size, seed):
            return run(*inputs, rows, batch_size, seed)
        return run_epoch

    def train(self, X, y, config, sample_weight, train_rows,
              validation_rows, epoch_callback):
        import tensorflow as tf

        self._reset(config)
        w = sample_weights(sample_weight, len(y))
        validation = validation_rows is not None
        epochs = (self._sparse_epochs
                  if isinstance(X, ScaledSparseExpression)
                  else self._dense_epochs)
        run_epoch = epochs(X, y, w, validation_rows if validation else [])
        train_rows = tf.convert_to_tensor(np.asarray(train_rows, np.int32))
        batch_size = tf.constant(
            max(1, min(config.batch_size, len(train_rows))), tf.int32)

        logged = LOGGED if validation else LOGGED[:2]

        def one_epoch(epoch):
            scores = run_epoch(train_rows, batch_size, tf.constant(
                [config.seed, epoch], tf.int32)).numpy()
            return {key: float(score) for key, score in zip(logged, scores)}

        history, best_epoch = run_epochs(
            one_epoch, config.epochs, config.patience, validation,
            epoch_callback, self._keep_best, self._restore_best)
        weights = [np.array(v) for v in self.model.get_weights()]
        return TrainingOutcome(TrainedNetwork(self.spec, weights), history,
                               best_epoch)


def _mean_scores(sums, validation_sums):
    """Loss and accuracy on the training rows, then on the validation rows,
    from their ``_weighted_sums``."""
    import tensorflow as tf

    return tf.concat([sums[:2] / tf.maximum(sums[2], 1e-12),
                      validation_sums[:2]
                      / tf.maximum(validation_sums[2], 1e-12)], 0)
