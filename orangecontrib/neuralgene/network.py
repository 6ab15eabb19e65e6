"""Keras network for gene expression classification: build, train, predict.

Numpy in, numpy out; knows neither Orange nor Qt. TensorFlow is imported on
first use, never at module import.
"""
import contextlib
import mmap
import os
import threading
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

__all__ = ["NetworkSpec", "TrainingConfig", "TrainedNetwork", "train_network",
           "float32_copy", "TrainingDiverged", "import_keras",
           "weights_or_ones"]

class TrainingDiverged(ValueError):
    """The loss became infinite or undefined."""


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


# TensorFlow shares (rather than copies) the memory of arrays aligned to this
_TENSOR_ALIGNMENT = 64
_ROWS_PER_COPY = 1024
_MAPPED_BYTES = 2 ** 22


def float32_copy(X) -> np.ndarray:
    """A C-ordered float32 copy of a dense or sparse matrix, in memory that
    training can hand to TensorFlow without copying it again."""
    shape = X.shape
    copy = _aligned_buffer(int(np.prod(shape)) * 4).view(
        np.float32).reshape(shape)
    for start in range(0, shape[0], _ROWS_PER_COPY):
        rows = X[start:start + _ROWS_PER_COPY]
        copy[start:start + _ROWS_PER_COPY] = (
            rows.toarray() if hasattr(rows, "toarray") else rows)
    return copy


def _aligned_buffer(n_bytes: int) -> np.ndarray:
    if n_bytes >= _MAPPED_BYTES and hasattr(mmap, "MAP_POPULATE"):
        # numpy asks for huge pages for large arrays, and the kernel may
        # first compact memory to find them: up to a third of a second for
        # 160 MB; mapping all pages at once takes a steady fifth of that
        memory = mmap.mmap(-1, n_bytes, flags=mmap.MAP_PRIVATE
                           | mmap.MAP_ANONYMOUS | mmap.MAP_POPULATE)
        return np.frombuffer(memory, dtype=np.uint8)
    buffer = np.empty(n_bytes + _TENSOR_ALIGNMENT, dtype=np.uint8)
    offset = -buffer.ctypes.data % _TENSOR_ALIGNMENT
    return buffer[offset:offset + n_bytes]


def _as_tensor(X: np.ndarray):
    import tensorflow as tf
    if (X.dtype == np.float32 and X.flags.c_contiguous
            and X.ctypes.data % _TENSOR_ALIGNMENT == 0):
        return tf.experimental.dlpack.from_dlpack(X.__dlpack__())
    return tf.convert_to_tensor(np.asarray(X, dtype=np.float32))


# ---------------------------------------------------------------------------
# TensorFlow and Keras, imported on first use

# fits in two threads (e.g. the widget and Test & Score) may both be first
_import_lock = threading.RLock()


def import_keras():
    """Import TensorFlow and Keras quietly (their C++ logging goes to fd 2),
    and, when imported in a worker thread, without freezing the GUI."""
    import sys
    with _import_lock:
        if "tensorflow" not in sys.modules:
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
            with _silenced_stderr(), _own_symbols_first(), \
                    _unscanned_by_gc():
                _load_libraries_without_gil()
                import tensorflow  # imports Keras too
            # e.g. retracing notes when many network shapes are trained
            tensorflow.get_logger().setLevel("ERROR")
    import keras
    return keras


@contextlib.contextmanager
def _own_symbols_first():
    """TensorFlow's libraries carry their own LLVM. Once another LLVM is
    loaded (Mesa's OpenGL, e.g. under Qt WebEngine's report or help view),
    TensorFlow's initialisers would bind to it and crash the process; deep
    binding makes them use their own (Linux only)."""
    import sys
    if not hasattr(sys, "getdlopenflags"):  # Windows has no dlopen
        yield
        return
    flags = sys.getdlopenflags()
    sys.setdlopenflags(flags | getattr(os, "RTLD_DEEPBIND", 0))
    try:
        yield
    finally:
        sys.setdlopenflags(flags)


def _load_libraries_without_gil():
    """Load TensorFlow's large shared libraries (0.8 GB) before its import
    does. Python's import loads them holding the GIL, which stops every
    other thread, the GUI's included, for a third of a second; a call
    through ctypes releases the GIL. Linux only; elsewhere, or if anything
    is amiss, the import loads them as usual."""
    import ctypes
    import glob
    import importlib.util
    import sys

    if not sys.platform.startswith("linux"):
        return
    spec = importlib.util.find_spec("tensorflow")
    if spec is None or not spec.submodule_search_locations:
        return
    folder = spec.submodule_search_locations[0]
    try:
        dlopen = ctypes.CDLL(None).dlopen
    except (OSError, AttributeError):
        return
    dlopen.restype = ctypes.c_void_p
    dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
    # framework first: the other library needs it
    for library in sorted(glob.glob(os.path.join(folder, "libtensorflow*.so*")),
                          key=lambda path: "framework" not in path):
        # the handle stays open, so the import finds the library loaded
        dlopen(os.fsencode(library), sys.getdlopenflags())


@contextlib.contextmanager
def _unscanned_by_gc():
    """Objects created meanwhile go to the garbage collector's oldest
    generation without being scanned on the way. Importing TensorFlow
    creates hundreds of thousands of objects that live as long as the
    process, and would set off several full collections, each holding the
    GIL for 100-200 ms while it scans the whole heap."""
    import gc

    was_enabled = gc.isenabled()
    untouched = gc.get_freeze_count() > 0  # the application froze objects
    gc.disable()
    try:
        yield
    finally:
        if not untouched:
            # freeze moves all tracked objects out of the young generations,
            # unfreeze moves them all into the oldest; neither scans them
            gc.freeze()
            gc.unfreeze()
        if was_enabled:
            gc.enable()


@contextlib.contextmanager
def _silenced_stderr():
    try:
        saved = os.dup(2)
    except OSError:  # no real stderr (e.g. embedded interpreter)
        yield
        return
    with open(os.devnull, "w", encoding="utf-8") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


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


def train_network(X: np.ndarray, y: np.ndarray, spec: NetworkSpec,
                  config: TrainingConfig,
                  sample_weight: Optional[np.ndarray] = None,
                  train_rows: Optional[np.ndarray] = None,
                  validation_rows: Optional[np.ndarray] = None,
                  epoch_callback: Optional[EpochCallback] = None
                  ) -> TrainingOutcome:
    """Train a network on integer class labels ``y`` in ``0..n_classes-1``.

    Trains on ``train_rows`` of X (default: all). With ``validation_rows``,
    training stops once their loss has not improved for ``config.patience``
    epochs and the weights of the best epoch are restored. Rows are picked
    inside the training graph, so X is never copied in parts. The losses
    reported are weighted cross-entropies, without the L2 penalty.
    """
    if train_rows is None:
        train_rows = np.arange(len(y))
    strategy = _multi_device_strategy()
    if strategy is not None:
        from orangecontrib.neuralgene.distributed import train_distributed
        return train_distributed(strategy, X, y, spec, config, sample_weight,
                                 train_rows, validation_rows, epoch_callback)
    trainer = _TrainerPool.take(spec)
    try:
        return trainer.train(X, y, config, sample_weight, train_rows,
                             validation_rows, epoch_callback)
    finally:
        _TrainerPool.give_back(trainer)


def _multi_device_strategy():
    """The tf.distribute strategy whose scope the caller entered, if it
    spans several devices (e.g. ``MirroredStrategy`` over GPUs)."""
    import_keras()
    import tensorflow as tf
    if tf.distribute.has_strategy():
        strategy = tf.distribute.get_strategy()
        if strategy.num_replicas_in_sync > 1:
            return strategy
    return None


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


class _Trainer:
    """A Keras model, its optimizer and one traced epoch of training.

    Every epoch, batches included, runs as a single ``tf.function`` call:
    Keras's ``fit`` spends tens of milliseconds per epoch in Python and
    callbacks, which dominates on expression data of a few hundred samples.
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

    def _weighted_loss(self, X, y, w, training):
        import keras
        import tensorflow as tf

        probs = self.model(X, training=training)
        per_sample = keras.losses.sparse_categorical_crossentropy(y, probs)
        total_weight = tf.maximum(tf.reduce_sum(w), 1e-12)
        loss = tf.reduce_sum(per_sample * w) / total_weight
        hits = tf.cast(
            tf.equal(tf.argmax(probs, axis=1, output_type=tf.int32), y),
            tf.float32)
        accuracy = tf.reduce_sum(hits * w) / total_weight
        return loss, accuracy

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

        def train_on_batch(start, loss_sum, accuracy_sum):
            batch = order[start:start + batch_size]
            with tf.GradientTape() as tape:
                loss, accuracy = self._weighted_loss(
                    tf.gather(X, batch), tf.gather(y, batch),
                    tf.gather(w, batch), training=True)
            updated = self._apply_update(tape.gradient(loss, variables))
            with tf.control_dependencies([updated]):
                size = tf.cast(tf.shape(batch)[0], tf.float32)
                return (start + batch_size, loss_sum + loss * size,
                        accuracy_sum + accuracy * size)

        _, loss_sum, accuracy_sum = tf.while_loop(
            lambda start, *_: start < n, train_on_batch,
            (tf.constant(0), tf.constant(0.0), tf.constant(0.0)))
        n_float = tf.cast(n, tf.float32)
        val_loss, val_accuracy = self._weighted_loss(
            X_val, y_val, w_val, training=False)
        return tf.stack([loss_sum / n_float, accuracy_sum / n_float,
                         val_loss, val_accuracy])

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
        w = weights_or_ones(sample_weight, len(y))
        validation = validation_rows is not None
        rows = validation_rows if validation else []
        X_val = tf.convert_to_tensor(
            np.asarray(X[rows], np.float32).reshape(-1, self.spec.n_inputs))
        y_val = tf.convert_to_tensor(np.asarray(y, np.int32)[rows])
        w_val = tf.convert_to_tensor(w[rows])
        X = _as_tensor(X)
        y = tf.convert_to_tensor(np.asarray(y, dtype=np.int32))
        w = tf.convert_to_tensor(w)
        train_rows = tf.convert_to_tensor(np.asarray(train_rows, np.int32))
        batch_size = tf.constant(
            max(1, min(config.batch_size, len(train_rows))), tf.int32)

        history = {"loss": [], "accuracy": []}
        if validation:
            history.update(val_loss=[], val_accuracy=[])
        best_loss, best_epoch = np.inf, 0
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
            if not np.isfinite(loss):
                raise TrainingDiverged(
                    "Training diverged (the loss became infinite or "
                    "undefined); lower the learning rate.")
            if validation:
                if val_loss < best_loss:
                    best_loss, best_epoch = val_loss, epoch
                    self._keep_best()
                elif epoch - best_epoch >= config.patience:
                    break
        if validation and best_epoch:
            self._restore_best()
        else:
            best_epoch = len(history["loss"])
        weights = [np.array(v) for v in self.model.get_weights()]
        return TrainingOutcome(TrainedNetwork(self.spec, weights), history,
                               best_epoch)


def weights_or_ones(weights: Optional[Sequence[float]], n: int):
    if weights is None:
        return np.ones(n, dtype=np.float32)
    return np.asarray(weights, dtype=np.float32)
