"""Training over several devices or machines with TensorFlow's own
distribution strategies.

A learner called inside the scope of a strategy of several replicas trains
here: ``MirroredStrategy`` over the GPUs of one machine, or
``MultiWorkerMirroredStrategy`` over machines, each running the same script
on the same data with its own ``TF_CONFIG``::

    import tensorflow as tf
    with tf.distribute.MirroredStrategy().scope():   # all visible GPUs
        model = NeuralGeneClassifierLearner(auto=False, batch_size=256)(data)

The batches are those of the add-on's own loop (``network.py``): the same
shuffle of the training rows each epoch, and ``batch_size`` rows in each,
split among all replicas; the replicas' gradients are summed, so a step is
the step of one device on the whole batch. Every replica takes its rows
from X, which every machine holds in full, so no input pipeline is sharded;
sparse expression (``network.ScaledSparseExpression``) is made dense and
scaled here as a whole, unlike in the one-device loop.
Losses and accuracies are summed over the replicas before anything is
decided on them, so early stopping and divergence (``training_rules``)
decide alike on every machine, and every machine ends with the same
weights. Without dropout the result is the one-device loop's, up to
rounding; Keras's dropout draws the same masks on every replica (for the
rows in the same place of each replica's share). An ``epoch_callback``
that raises on one machine only leaves the others waiting for it.

Keras's ``fit`` is not used: in Keras 3 (3.15 tried) it fails under
``MultiWorkerMirroredStrategy`` (keras-team/keras#20585).
"""
import numpy as np

from orangecontrib.neuralgene.network import (
    TrainedNetwork, TrainingOutcome, build_network, initialize_weights)
from orangecontrib.neuralgene.tensorflow_startup import import_keras
from orangecontrib.neuralgene.training_rules import (
    LOGGED, run_epochs, sample_weights, weighted_sums)

__all__ = ["train_distributed"]


def train_distributed(strategy, X, y, spec, config, sample_weight,
                      train_rows, validation_rows, epoch_callback
                      ) -> TrainingOutcome:
    """``training.train_network``, with its arguments, over the replicas of
    ``strategy``."""
    X = np.asarray(X, np.float32)
    y = np.asarray(y, np.int32)
    w = sample_weights(sample_weight, len(y))
    train_rows = np.asarray(train_rows, np.int32)
    steps = ReplicatedSteps(strategy, spec, config)
    batch_size = max(1, min(config.batch_size, len(train_rows)))
    validation = validation_rows is not None

    best_weights = []

    def one_epoch(epoch):
        order = epoch_order(train_rows, config.seed, epoch)
        sums = np.zeros(3)
        for start in range(0, len(order), batch_size):
            sums += steps.train(X, y, w, order[start:start + batch_size])
        scores = weighted_means(sums)
        if validation:
            scores += weighted_means(steps.evaluate(X, y, w, validation_rows))
        return dict(zip(LOGGED, scores))

    def keep_best():
        best_weights[:] = steps.model.get_weights()

    def restore_best():
        with strategy.scope():
            steps.model.set_weights(best_weights)

    history, best_epoch = run_epochs(
        one_epoch, config.epochs, config.patience, validation,
        epoch_callback, keep_best, restore_best)
    network = TrainedNetwork(
        spec, [np.array(w) for w in steps.model.get_weights()])
    return TrainingOutcome(network, history, best_epoch)


def epoch_order(rows, seed, epoch):
    """The training rows in the order of ``epoch``: the one-device loop's
    shuffle, a function of the seed and the epoch alone, so every machine
    draws the same."""
    import_keras()
    import tensorflow as tf

    return tf.random.experimental.stateless_shuffle(
        rows, tf.constant([seed, epoch], tf.int32)).numpy()


def weighted_means(sums):
    """Loss and accuracy from sums of w × cross-entropy, w × hit and w."""
    total = max(float(sums[2]), 1e-12)
    return float(sums[0]) / total, float(sums[1]) / total


class ReplicatedSteps:
    """The network, its optimizer and their steps on a batch of rows, split
    among the replicas of a strategy; each step returns the sums of
    w × cross-entropy, w × hit and w over the whole batch."""

    def __init__(self, strategy, spec, config):
        keras = import_keras()
        import tensorflow as tf

        self.strategy = strategy
        self.spec = spec
        with strategy.scope():
            self.model = build_network(spec)
            initialize_weights(self.model, config.seed)
            self.optimizer = keras.optimizers.Adam(config.learning_rate)
            self.optimizer.build(self.model.trainable_variables)
        # the last batch of an epoch is smaller: two shapes, two traces
        self._train_step = tf.function(self._train_on_shares,
                                       reduce_retracing=True)
        self._evaluate_step = tf.function(self._evaluate_shares,
                                          reduce_retracing=True)

    def train(self, X, y, w, rows) -> np.ndarray:
        """One update on the batch ``rows``; the sums are taken before it."""
        # the loss of a batch is divided by the weight of all its rows, on
        # whichever replica they are, as the one-device loop divides it
        batch_weight = np.float32(max(float(np.sum(w[rows])), 1e-12))
        return self._train_step(self._shares(X, y, w, rows),
                                batch_weight).numpy()

    def evaluate(self, X, y, w, rows) -> np.ndarray:
        return self._evaluate_step(self._shares(X, y, w, rows)).numpy()

    def _shares(self, X, y, w, rows):
        """Each replica's X, y and w: consecutive slices of ``rows``, sizes
        differing by one row at most (some are empty when the batch has
        fewer rows than there are replicas)."""
        import tensorflow as tf

        def share(context):
            replica = context.replica_id_in_sync_group
            n_replicas = context.num_replicas_in_sync
            mine = rows[len(rows) * replica // n_replicas:
                        len(rows) * (replica + 1) // n_replicas]
            return (tf.constant(X[mine]), tf.constant(y[mine]),
                    tf.constant(w[mine]))

        return self.strategy.experimental_distribute_values_from_function(
            share)

    def _train_on_shares(self, shares, batch_weight):
        sums = self.strategy.run(self._train_on_share,
                                 args=(*shares, batch_weight))
        return self.strategy.reduce("SUM", sums, axis=None)

    def _evaluate_shares(self, shares):
        sums = self.strategy.run(self._weighted_sums,
                                 args=(*shares, False))
        return self.strategy.reduce("SUM", sums, axis=None)

    def _train_on_share(self, X, y, w, batch_weight):
        import tensorflow as tf

        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            sums = self._weighted_sums(X, y, w, True)
            loss = sums[0] / batch_weight
        gradients = tape.gradient(loss, variables)
        if self.spec.l2 > 0:
            # the optimizer sums the replicas' gradients: each adds its
            # share of the L2 penalty's, as the one-device loop adds it
            share = 2 * self.spec.l2 / self.strategy.num_replicas_in_sync
            gradients = [g + share * v if len(v.shape) == 2 else g
                         for g, v in zip(gradients, variables)]
        self.optimizer.apply_gradients(zip(gradients, variables))
        return sums

    def _weighted_sums(self, X, y, w, training):
        return weighted_sums(self.model, X, y, w, training)
