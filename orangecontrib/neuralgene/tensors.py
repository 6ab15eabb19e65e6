"""Expression matrices in memory that TensorFlow can use without a copy.

TensorFlow takes over (through DLPack) the memory of a C-ordered float32
array aligned to 64 bytes; any other array it copies first, which for a
wide table doubles the memory that training needs.
"""
import mmap

import numpy as np

from orangecontrib.neuralgene.tensorflow_startup import (
    import_keras, workarounds_enabled)

__all__ = ["float32_copy", "as_tensor", "TENSOR_ALIGNMENT", "MAPPED_BYTES"]

TENSOR_ALIGNMENT = 64
# copies at least this large are mapped rather than allocated by numpy
MAPPED_BYTES = 2 ** 22
_ROWS_PER_COPY = 1024


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


def as_tensor(X: np.ndarray):
    """X as a TensorFlow tensor, sharing its memory where it can."""
    import_keras()
    import tensorflow as tf

    if (X.dtype == np.float32 and X.flags.c_contiguous
            and X.ctypes.data % TENSOR_ALIGNMENT == 0):
        return tf.experimental.dlpack.from_dlpack(X.__dlpack__())
    return tf.convert_to_tensor(np.asarray(X, dtype=np.float32))


def _aligned_buffer(n_bytes: int) -> np.ndarray:
    if (n_bytes >= MAPPED_BYTES and hasattr(mmap, "MAP_POPULATE")
            and workarounds_enabled()):
        # Linux: numpy asks for huge pages for large arrays, and the kernel
        # may first compact memory to find them: up to a third of a second
        # for 160 MB; mapping all pages at once takes a steady fifth of that
        memory = mmap.mmap(-1, n_bytes, flags=mmap.MAP_PRIVATE
                           | mmap.MAP_ANONYMOUS | mmap.MAP_POPULATE)
        return np.frombuffer(memory, dtype=np.uint8)
    buffer = np.empty(n_bytes + TENSOR_ALIGNMENT, dtype=np.uint8)
    offset = -buffer.ctypes.data % TENSOR_ALIGNMENT
    return buffer[offset:offset + n_bytes]
