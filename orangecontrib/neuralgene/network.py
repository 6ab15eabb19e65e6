"""Keras network for gene expression classification: its architecture, its
weights, and training it on one device with the add-on's own loop.

Numpy in, numpy out; knows neither Orange nor Qt. TensorFlow is imported on
first use (through ``tensorflow_startup``), never at module import. Training
goes through ``training.train_network``, which picks this loop or Keras's
``fit`` over several devices; both follow ``training_rules``.
"""
import threading
from dataclasses import dataclass
from typing import Callable, Dict, List, Tuple

import numpy as np

from orangecontrib.neuralgene.tensorflow_startup import import_keras
from orangecontrib.neuralgene.tensors import as_tensor
from orangecontrib.neuralgene.training_rules import (
    EarlyStopping, TrainingDiverged, check_not_diverged, cross_entropy,
    sample_weights)

__all__ = ["NetworkSpec", "TrainingConfig", "TrainedNetwork",
           "TrainingOutcome", "TrainingDiverged", "EpochCallback",
           "build_network", "initialize_weights", "train_on_one_device",
           "clear_trainer_pool"]

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


def build_network(spec: NetworkSpec, l2_regularizers=False):
    """The Keras model; the L2 penalty is left to the training step unless
    ``l2_regularizers`` attaches it as Keras regularizers (for ``fit``)."""
    keras = import_keras()
    regularizer = None
    if l2_regularizers and spec.l2 > 0:
        regularizer = keras.regularizers.L2(spec.l2)
    layers = [keras.Input(shape=(spec.n_inputs,))]
    for width in spec.hidden_layers:
        layers.append(keras.layers.Dense(width, activation=spec.activation,
                                         kernel_regularizer=regularizer))
        if spec.dropout > 0:
            layers.append(keras.layers.Dropout(spec.dropout))
    layers.append(keras.layers.Dense(spec.n_classes, activation="softmax",
                                     kernel_regularizer=regularizer))
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
    not copied at all.
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
    only the optimizer's update.
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
        self._keep_best = tf.function(
            self._copy_weights(to_best=True)).get_concrete_function()
        self._restore_best = tf.function(
            self._copy_weights(to_best=False)).get_concrete_function()

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
        """Sums over the rows of w × cross-entropy, w × hit, and w."""
        import tensorflow as tf

        probs = self.model(X, training=training)
        hits = tf.cast(
            tf.equal(tf.argmax(probs, axis=1, output_type=tf.int32), y),
            tf.float32)
        return tf.stack([tf.reduce_sum(cross_entropy(y, probs) * w),
                         tf.reduce_sum(hits * w), tf.reduce_sum(w)])

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

    def _epoch(self, X, y, w, rows, X_val, y_val, w_val, batch_size, seed):
        import tensorflow as tf

        n = tf.shape(rows)[0]
        order = tf.random.experimental.stateless_shuffle(rows, seed)
        variables = self.model.trainable_variables

        def train_on_batch(start, epoch_sums):
            batch = order[start:start + batch_size]
            with tf.GradientTape() as tape:
                sums = self._weighted_sums(
                    tf.gather(X, batch), tf.gather(y, batch),
                    tf.gather(w, batch), training=True)
                loss = sums[0] / tf.maximum(sums[2], 1e-12)
            updated = self._apply_update(tape.gradient(loss, variables))
            with tf.control_dependencies([updated]):
                return start + batch_size, epoch_sums + sums

        _, sums = tf.while_loop(
            lambda start, _: start < n, train_on_batch,
            (tf.constant(0), tf.zeros([3])))
        val_sums = self._weighted_sums(X_val, y_val, w_val, training=False)
        return tf.concat([sums[:2] / tf.maximum(sums[2], 1e-12),
                          val_sums[:2] / tf.maximum(val_sums[2], 1e-12)], 0)

    def _reset(self, config: TrainingConfig):
        """Fresh weights and optimizer state, the same for a given seed
        whether this trainer is new or reused."""
        import tensorflow as tf

        initialize_weights(self.model, config.seed)
        for variable in self.optimizer.variables:
            variable.assign(tf.zeros_like(variable))
        self.optimizer.learning_rate = config.learning_rate

    def train(self, X, y, config, sample_weight, train_rows,
              validation_rows, epoch_callback):
        import tensorflow as tf

        self._reset(config)
        w = sample_weights(sample_weight, len(y))
        validation = validation_rows is not None
        rows = validation_rows if validation else []
        X_val = tf.convert_to_tensor(
            np.asarray(X[rows], np.float32).reshape(-1, self.spec.n_inputs))
        y_val = tf.convert_to_tensor(np.asarray(y, np.int32)[rows])
        w_val = tf.convert_to_tensor(w[rows])
        X = as_tensor(X)
        y = tf.convert_to_tensor(np.asarray(y, dtype=np.int32))
        w = tf.convert_to_tensor(w)
        train_rows = tf.convert_to_tensor(np.asarray(train_rows, np.int32))
        batch_size = tf.constant(
            max(1, min(config.batch_size, len(train_rows))), tf.int32)

        history = {"loss": [], "accuracy": []}
        if validation:
            history.update(val_loss=[], val_accuracy=[])
        stopping = EarlyStopping(config.patience)
        for epoch in range(1, config.epochs + 1):
            seed = tf.constant([config.seed, epoch], tf.int32)
            loss, accuracy, val_loss, val_accuracy = self._run_epoch(
                X, y, w, train_rows, X_val, y_val, w_val, batch_size,
                seed).numpy()
            logs = {"loss": float(loss), "accuracy": float(accuracy)}
            if validation:
                logs.update(val_loss=float(val_loss),
                            val_accuracy=float(val_accuracy))
            for key, value in logs.items():
                history[key].append(value)
            if epoch_callback is not None:
                epoch_callback(epoch, config.epochs, logs)
            check_not_diverged(loss)
            if validation:
                if stopping.is_best(epoch, val_loss):
                    self._keep_best()
                elif stopping.should_stop(epoch):
                    break
        best_epoch = stopping.best_epoch
        if best_epoch:
            self._restore_best()
        else:
            best_epoch = len(history["loss"])
        weights = [np.array(v) for v in self.model.get_weights()]
        return TrainingOutcome(TrainedNetwork(self.spec, weights), history,
                               best_epoch)
