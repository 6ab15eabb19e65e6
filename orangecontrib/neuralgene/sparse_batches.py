"""Sparse expression matrices inside TensorFlow graphs: a CSR matrix held
as tensors, and the product of some of its rows with the first layer's
weights, made dense a block of rows at a time.

On the CPU, TensorFlow's sparse products were slower than dense ones
(100 rows of 20,000 genes, 5% non-zero, times 300 weights: 170 ms against
40 ms dense; ``tf.linalg.sparse``'s transposed product 210 ms), so blocks
of rows are made dense and multiplied as dense: a block's dense copy is
small whatever the size of the matrix or of the batch.

TensorFlow is imported through ``tensorflow_startup`` on first use;
knows neither Orange nor Qt.
"""
import numpy as np
import scipy.sparse as sp

from orangecontrib.neuralgene import sparse_expression
from orangecontrib.neuralgene.tensorflow_startup import import_keras

__all__ = ["csr_tensors", "csr_signature", "n_rows", "dense_rows", "times",
           "transposed_times"]

# Values of a block of rows made dense at once (16 MB in float32)
BLOCK_ELEMENTS = sparse_expression.BLOCK_ELEMENTS


def csr_tensors(X) -> tuple:
    """Sparse X as tensors: row pointers, column indices, values, shape."""
    import_keras()
    import tensorflow as tf

    X = sp.csr_matrix(X)
    if not X.has_canonical_format:  # one value per gene and row
        X = X.copy()
        X.sum_duplicates()
    return (tf.constant(X.indptr.astype(np.int64)),
            tf.constant(X.indices.astype(np.int32, copy=False)),
            tf.constant(X.data.astype(np.float32, copy=False)),
            tf.constant(X.shape, tf.int64))


def csr_signature() -> tuple:
    """The ``tf.function`` input signature of ``csr_tensors``."""
    import tensorflow as tf

    return (tf.TensorSpec([None], tf.int64), tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([None], tf.float32), tf.TensorSpec([2], tf.int64))


def n_rows(csr):
    import tensorflow as tf

    return tf.cast(csr[3][0], tf.int32)


def dense_rows(csr, which):
    """The rows ``which`` of the matrix, in that order, dense."""
    import tensorflow as tf

    indptr, indices, values, shape = csr
    which = tf.cast(which, tf.int64)
    positions = tf.ragged.range(tf.gather(indptr, which),
                                tf.gather(indptr, which + 1))
    stored = positions.flat_values
    # without validation: csr_tensors' rows hold each gene once
    return tf.sparse.to_dense(tf.SparseTensor(
        tf.stack([positions.value_rowids(),
                  tf.cast(tf.gather(indices, stored), tf.int64)], axis=1),
        tf.gather(values, stored),
        tf.stack([tf.size(which, tf.int64), shape[1]])),
        validate_indices=False)


def _blocks(csr, which):
    """The starts of ``which``'s blocks of rows, their length, and the
    rows of block i, dense."""
    import tensorflow as tf

    step = tf.maximum(1, BLOCK_ELEMENTS // tf.cast(csr[3][1], tf.int32))
    starts = tf.range(0, tf.maximum(tf.size(which), 1), step)
    return starts, step, lambda i: dense_rows(
        csr, which[starts[i]:starts[i] + step])


def _one_block_at_a_time(n_blocks, add, initial):
    """``add(i, done)`` for blocks 1, 2, ...: TensorFlow would make ten
    dense at once."""
    import tensorflow as tf

    return tf.while_loop(lambda i, _: i < n_blocks,
                         lambda i, done: (i + 1, add(i, done)),
                         (tf.constant(1), initial),
                         parallel_iterations=1)[1]


def times(csr, which, weights):
    """The rows ``which`` of the matrix times ``weights`` (genes × k); no
    more than ``BLOCK_ELEMENTS`` values of the matrix are dense at a time."""
    import tensorflow as tf

    starts, _, block = _blocks(csr, which)
    return _one_block_at_a_time(
        tf.size(starts),
        lambda i, parts: parts.write(i, tf.matmul(block(i), weights)),
        tf.TensorArray(weights.dtype, size=tf.size(starts),
                       infer_shape=False).write(
                           0, tf.matmul(block(0), weights))).concat()


def transposed_times(csr, which, upstream):
    """The rows ``which`` of the matrix, transposed, times ``upstream``
    (a row per row of ``which``): genes × k, as ``times``'s gradient in
    its weights. No more than ``BLOCK_ELEMENTS`` values of the matrix are
    dense at a time."""
    import tensorflow as tf

    starts, step, block = _blocks(csr, which)
    return _one_block_at_a_time(
        tf.size(starts),
        lambda i, total: total + tf.matmul(
            block(i), upstream[starts[i]:starts[i] + step],
            transpose_a=True),
        tf.matmul(block(0), upstream[:step], transpose_a=True))
