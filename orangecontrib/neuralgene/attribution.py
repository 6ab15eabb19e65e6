"""Which inputs a trained network's predictions rest on: integrated gradients.

Integrated gradients (Sundararajan, Taly and Yan, 2017) attribute a
prediction to the inputs by integrating the gradient along the straight line
from a baseline input to the sample. Unlike the bare gradient or gradient ×
input, the attributions of one sample add up to how far its prediction is
from the baseline's, also where the softmax saturates (a confidently
classified sample has near-zero gradients). The baseline is the all-zero
input; for standardized expression that is the average training sample, so
an attribution says how much a gene's deviation from its average moves the
predicted probability. The path is walked from the first layer's output,
which is linear in the input: the wide first layer is computed twice per
sample, not twice per point of the path.

Numpy in, numpy out; knows neither Orange nor Qt. TensorFlow is imported on
first use, never at module import.
"""
import numpy as np

from orangecontrib.neuralgene.network import TrainedNetwork, build_network
from orangecontrib.neuralgene.tensorflow_startup import import_keras

__all__ = ["integrated_gradients", "class_importances", "rows_per_class",
           "ROWS_PER_CLASS"]

# Points on the path from the baseline to a sample (midpoint rule); on the
# Khan data each sample's attributions then add up to within 0.01 of its
# change in probability (32 points: 0.02, and a less stable gene ranking)
N_STEPS = 100
# Rows of each class whose attributions are averaged: the class means are
# estimated well from a few dozen rows, so thousands of samples need not
# all be walked
ROWS_PER_CLASS = 30
# Path points × first-layer units evaluated at once, bounding the memory used
_CHUNK_ELEMENTS = 2 ** 23


def integrated_gradients(network: TrainedNetwork, X: np.ndarray,
                         classes: np.ndarray, n_steps: int = N_STEPS
                         ) -> np.ndarray:
    """Attribution of every input of every row of ``X`` to the network's
    probability of that row's class in ``classes`` (``0..n_classes-1``).

    Each row's attributions add up (approximately, with ``n_steps`` points)
    to its probability minus the probability at the all-zero input.
    """
    import_keras()  # the first import of TensorFlow goes through the add-on
    import tensorflow as tf

    X = np.asarray(X, dtype=np.float32)
    classes = np.asarray(classes, dtype=np.int32)
    attributions = np.zeros_like(X)
    if X.size == 0:
        return attributions
    model = build_network(network.spec)
    model.set_weights(network.weights)
    first, later = model.layers[0], model.layers[1:]
    alphas = tf.constant((np.arange(n_steps) + 0.5) / n_steps, tf.float32)
    width = first.units
    rows_per_chunk = max(1, _CHUNK_ELEMENTS // (n_steps * width))
    for start in range(0, len(X), rows_per_chunk):
        rows = X[start:start + rows_per_chunk]
        n_rows = len(rows)
        # The first layer is linear in the input, so a point alpha * x on
        # the path reaches it as alpha * (x W) + b: the path is walked from
        # there, and the mean gradient taken back through W once per row
        # rather than once per point (a hundredth of the work on wide data)
        projected = tf.matmul(rows, first.kernel)
        path = tf.reshape(alphas[:, None, None] * projected[None]
                          + first.bias, (n_steps * n_rows, width))
        path_classes = tf.tile(classes[start:start + n_rows], [n_steps])
        with tf.GradientTape() as tape:
            tape.watch(path)
            outputs = first.activation(path)
            for layer in later:
                outputs = layer(outputs, training=False)
            target = tf.gather(outputs, path_classes[:, None], batch_dims=1)
        mean_gradient = tf.reduce_mean(tf.reshape(
            tape.gradient(target, path), (n_steps, n_rows, width)), axis=0)
        attributions[start:start + n_rows] = rows * tf.matmul(
            mean_gradient, first.kernel, transpose_b=True).numpy()
    return attributions


def class_importances(network: TrainedNetwork, X: np.ndarray,
                      y: np.ndarray, n_steps: int = N_STEPS) -> np.ndarray:
    """Importance of every input for every class, shape (classes, inputs).

    For class c: the size of the mean integrated gradient of the probability
    of c over the rows of class c, that is of the input's average
    contribution to recognising c. Averaging before taking the size lets
    contributions that differ in sign from row to row cancel, as those of
    inputs that only help to memorise single rows do (the mean absolute
    value, as in SHAP's global importance, ranks such inputs high).
    Classes without rows get NaN. Classes with more than ``ROWS_PER_CLASS``
    rows are represented by that many, chosen at random (always the same).
    """
    y = np.asarray(y, dtype=int)
    rows = rows_per_class(y, ROWS_PER_CLASS)
    X, y = np.asarray(X)[rows], y[rows]
    attributions = integrated_gradients(network, X, y, n_steps)
    importances = np.full((network.spec.n_classes, np.shape(X)[1]), np.nan)
    for c in np.unique(y):
        importances[c] = np.abs(attributions[y == c].mean(axis=0))
    return importances


def rows_per_class(y, limit):
    """Indices of at most ``limit`` rows of every class of ``y``, in order;
    the same rows every time."""
    order = np.random.RandomState(0).permutation(len(y))
    kept = [order[y[order] == c][:limit] for c in np.unique(y)]
    return np.sort(np.concatenate(kept)) if kept else np.zeros(0, int)
