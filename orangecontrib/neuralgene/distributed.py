"""Training over several GPUs with TensorFlow's own distribution strategies.

A learner called inside the scope of a strategy that spans several devices
trains through Keras's ``fit``, which splits every batch over the replicas
and combines their gradients::

    import tensorflow as tf
    with tf.distribute.MirroredStrategy().scope():   # all visible GPUs
        model = NeuralGeneClassifierLearner(batch_size=256)(data)

``batch_size`` is the global batch, shared among the replicas. Early stopping
and progress use Keras callbacks. Without such a scope (one GPU, or the CPU),
the single-graph loop in ``network.py`` is used; TensorFlow places it on a
visible GPU by itself.
"""
import numpy as np

from orangecontrib.neuralgene.network import (
    TrainedNetwork, TrainingOutcome, import_keras, weights_or_ones, build_network,
    initialize_weights)


def train_distributed(strategy, X, y, spec, config, sample_weight,
                      train_rows, validation_rows, epoch_callback):
    keras = import_keras()
    import tensorflow as tf

    weights = weights_or_ones(sample_weight, len(y))
    y = np.asarray(y, np.int32)
    with strategy.scope():
        model = build_network(spec, l2_regularizers=True)
        initialize_weights(model, config.seed)
        model.compile(
            optimizer=keras.optimizers.Adam(config.learning_rate),
            loss="sparse_categorical_crossentropy",
            weighted_metrics=["accuracy"])

    training = tf.data.Dataset.from_tensor_slices(
        (X[train_rows], y[train_rows], weights[train_rows]))
    training = training.shuffle(
        len(train_rows), seed=config.seed).batch(config.batch_size)
    callbacks = []
    validation = None
    if validation_rows is not None:
        validation = (X[validation_rows], y[validation_rows],
                      weights[validation_rows])
        stopping = keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=config.patience,
            restore_best_weights=True)
        callbacks.append(stopping)
    if epoch_callback is not None:
        callbacks.append(keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: epoch_callback(
                epoch + 1, config.epochs, _epoch_logs(logs))))
    history = model.fit(training, epochs=config.epochs,
                        validation_data=validation, callbacks=callbacks,
                        verbose=0).history
    history = {key: [float(v) for v in values]
               for key, values in _epoch_logs(history).items()}
    best_epoch = (stopping.best_epoch + 1 if validation is not None
                  else len(history["loss"]))
    network = TrainedNetwork(spec, [np.array(w) for w in model.get_weights()])
    return TrainingOutcome(network, history, best_epoch)


def _epoch_logs(logs):
    keys = ("loss", "accuracy", "val_loss", "val_accuracy")
    return {key: logs[key] for key in keys if key in logs}
