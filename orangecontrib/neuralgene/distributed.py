"""Training over several GPUs with TensorFlow's own distribution strategies.

A learner called inside the scope of a strategy that spans several devices
trains through Keras's ``fit``, which splits every batch over the replicas
and combines their gradients::

    import tensorflow as tf
    with tf.distribute.MirroredStrategy().scope():   # all visible GPUs
        model = NeuralGeneClassifierLearner(batch_size=256)(data)

``batch_size`` is the global batch, shared among the replicas. The losses
reported, early stopping and divergence follow ``training_rules``, as the
add-on's own loop does. What differs is the shuffling of the rows, and the
gradient's scale under sample weights (Keras divides a batch's weighted
loss by its rows, the loop by their weights).
Without such a scope (one GPU, or the CPU), ``training.train_network`` uses
that loop (``network.py``); TensorFlow places it on a visible GPU by itself.
"""
import numpy as np

from orangecontrib.neuralgene.network import (
    TrainedNetwork, TrainingOutcome, build_network, initialize_weights)
from orangecontrib.neuralgene.tensorflow_startup import import_keras
from orangecontrib.neuralgene.training_rules import (
    LOGGED, EarlyStopping, check_not_diverged, cross_entropy, sample_weights)

# Keras's own "loss" includes the L2 penalty and divides by the number of
# rows; the loss reported is this metric, as training_rules defines it
_REPORTED_AS = {"cross_entropy": "loss", "accuracy": "accuracy",
                "val_cross_entropy": "val_loss",
                "val_accuracy": "val_accuracy"}


def train_distributed(strategy, X, y, spec, config, sample_weight,
                      train_rows, validation_rows, epoch_callback):
    keras = import_keras()
    import tensorflow as tf

    weights = sample_weights(sample_weight, len(y))
    y = np.asarray(y, np.int32)
    with strategy.scope():
        model = build_network(spec, l2_regularizers=True)
        initialize_weights(model, config.seed)
        model.compile(
            optimizer=keras.optimizers.Adam(config.learning_rate),
            loss="sparse_categorical_crossentropy",
            weighted_metrics=[
                keras.metrics.MeanMetricWrapper(
                    cross_entropy, name="cross_entropy"),
                "accuracy"])

    training = tf.data.Dataset.from_tensor_slices(
        (X[train_rows], y[train_rows], weights[train_rows]))
    training = training.shuffle(
        len(train_rows), seed=config.seed).batch(config.batch_size)
    validation = None
    if validation_rows is not None:
        validation = (X[validation_rows], y[validation_rows],
                      weights[validation_rows])
    history = {key: [] for key in LOGGED
               if validation is not None or not key.startswith("val_")}
    stopping = EarlyStopping(config.patience)
    best_weights = []

    def end_epoch(epoch, keras_logs):
        epoch += 1
        logs = {reported: float(keras_logs[key])
                for key, reported in _REPORTED_AS.items() if key in keras_logs}
        for key, value in logs.items():
            history[key].append(value)
        if epoch_callback is not None:
            epoch_callback(epoch, config.epochs, logs)
        check_not_diverged(logs["loss"])
        if validation is not None:
            if stopping.is_best(epoch, logs["val_loss"]):
                best_weights[:] = model.get_weights()
            elif stopping.should_stop(epoch):
                model.stop_training = True

    model.fit(training, epochs=config.epochs, validation_data=validation,
              callbacks=[keras.callbacks.LambdaCallback(
                  on_epoch_end=end_epoch)],
              verbose=0)
    best_epoch = stopping.best_epoch
    if best_epoch:
        model.set_weights(best_weights)
    else:
        best_epoch = len(history["loss"])
    network = TrainedNetwork(spec, [np.array(w) for w in model.get_weights()])
    return TrainingOutcome(network, history, best_epoch)
