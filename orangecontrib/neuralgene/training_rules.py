"""The rules that both ways of training one network follow: the add-on's own
loop on one device (``network``) and its replicated steps over several
devices or machines (``distributed``). The Training History output means
the same either way.

- Sample weights are ones where none are given.
- The loss reported is the weighted mean cross-entropy, sum(w l) / sum(w),
  without the L2 penalty; accuracy is weighted alike. On the training rows
  it is taken over the epoch's batches as they are met (dropout on, each
  batch before its update); on the validation rows, after the epoch.
- Early stopping: the best epoch is the first with the lowest validation
  loss; training stops after ``patience`` epochs without a lower one, and
  the best epoch's weights are kept. Without validation rows, the last
  epoch is the best.
- A training loss that is infinite or undefined stops training with
  ``TrainingDiverged``.
"""
import math
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from orangecontrib.neuralgene.tensorflow_startup import import_keras

__all__ = ["TrainingDiverged", "sample_weights", "cross_entropy",
           "weighted_sums", "check_not_diverged", "EarlyStopping",
           "run_epochs", "LOGGED"]

# what each epoch reports, in this order
LOGGED = ("loss", "accuracy", "val_loss", "val_accuracy")


class TrainingDiverged(ValueError):
    """The loss became infinite or undefined."""


def sample_weights(weights: Optional[Sequence[float]], n: int) -> np.ndarray:
    """The weights of n samples as float32; ones where none are given."""
    if weights is None:
        return np.ones(n, dtype=np.float32)
    return np.asarray(weights, dtype=np.float32)


def cross_entropy(y, probs):
    """Each sample's cross-entropy, of integer labels ``y`` and predicted
    class probabilities ``probs`` (tensors)."""
    keras = import_keras()
    return keras.losses.sparse_categorical_crossentropy(y, probs)


def weighted_sums(model, X, y, w, training):
    """Sums over the rows of w × cross-entropy, w × hit, and w, of a Keras
    ``model``'s predictions on X (tensors): what the reported loss and
    accuracy are made of."""
    import tensorflow as tf

    probs = model(X, training=training)
    hits = tf.cast(
        tf.equal(tf.argmax(probs, axis=1, output_type=tf.int32), y),
        tf.float32)
    return tf.stack([tf.reduce_sum(cross_entropy(y, probs) * w),
                     tf.reduce_sum(hits * w), tf.reduce_sum(w)])


def check_not_diverged(loss: float):
    if not np.isfinite(loss):
        raise TrainingDiverged(
            "Training diverged (the loss became infinite or undefined); "
            "lower the learning rate.")


class EarlyStopping:
    """Early stopping on the validation loss, epochs counted from 1."""

    def __init__(self, patience: int):
        self.patience = patience
        self.best_epoch = 0  # none yet
        self.best_loss = math.inf

    def is_best(self, epoch: int, val_loss: float) -> bool:
        """Whether ``epoch`` is the best so far (then its weights are to be
        kept); an undefined loss never is."""
        if val_loss < self.best_loss:
            self.best_epoch, self.best_loss = epoch, val_loss
            return True
        return False

    def should_stop(self, epoch: int) -> bool:
        return epoch - self.best_epoch >= self.patience


def run_epochs(run_epoch: Callable[[int], Dict[str, float]], n_epochs: int,
               patience: int, validation: bool, epoch_callback,
               keep_best: Callable[[], None], restore_best: Callable[[], None]
               ) -> Tuple[Dict[str, List[float]], int]:
    """The epochs of training one network, by these rules, whichever way
    an epoch is trained: ``run_epoch(epoch)`` trains epoch 1, 2, … and
    returns its logs (``LOGGED``, the validation ones with ``validation``);
    ``keep_best`` keeps the weights of the best epoch so far and
    ``restore_best`` brings them back at the end. Returns the history and
    the best epoch."""
    history = {key: [] for key in LOGGED
               if validation or not key.startswith("val_")}
    stopping = EarlyStopping(patience)
    for epoch in range(1, n_epochs + 1):
        logs = run_epoch(epoch)
        for key, value in logs.items():
            history[key].append(value)
        if epoch_callback is not None:
            epoch_callback(epoch, n_epochs, logs)
        check_not_diverged(logs["loss"])
        if validation:
            if stopping.is_best(epoch, logs["val_loss"]):
                keep_best()
            elif stopping.should_stop(epoch):
                break
    if stopping.best_epoch:
        restore_best()
        return history, stopping.best_epoch
    return history, len(history["loss"])
