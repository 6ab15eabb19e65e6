"""Training one network: with the add-on's own loop on one device, or, when
the caller entered a ``tf.distribute`` strategy of several replicas (GPUs of
one machine, or machines), with the same batches split among them (see
``distributed``). Both follow ``training_rules``.
"""
from typing import Optional

import numpy as np

# the module, not its function: looked up per call, so tests can spy on it
import orangecontrib.neuralgene.distributed as distributed
from orangecontrib.neuralgene.network import (
    EpochCallback, NetworkSpec, TrainingConfig, TrainingOutcome,
    train_on_one_device)
from orangecontrib.neuralgene.tensorflow_startup import import_keras

__all__ = ["train_network"]


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
    epochs and the weights of the best epoch are restored. The losses
    reported are weighted cross-entropies, without the L2 penalty.
    ``epoch_callback(epoch, n_epochs, logs)`` is called after every epoch;
    raising aborts training.
    """
    if train_rows is None:
        train_rows = np.arange(len(y))
    strategy = _multi_device_strategy()
    if strategy is not None:
        return distributed.train_distributed(
            strategy, X, y, spec, config, sample_weight, train_rows,
            validation_rows, epoch_callback)
    return train_on_one_device(X, y, spec, config, sample_weight, train_rows,
                               validation_rows, epoch_callback)


def _multi_device_strategy():
    """The tf.distribute strategy whose scope the caller entered, if it
    spans several devices (``MirroredStrategy`` over GPUs,
    ``MultiWorkerMirroredStrategy`` over machines)."""
    import_keras()
    import tensorflow as tf

    if tf.distribute.has_strategy():
        strategy = tf.distribute.get_strategy()
        if strategy.num_replicas_in_sync > 1:
            return strategy
    return None
