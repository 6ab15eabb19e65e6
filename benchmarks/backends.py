"""Keras backends on the wide benchmark's network: 2000 samples x 20,000
genes, 10 classes, hidden layer 256 with dropout 0.5, L2 1e-4, Adam, 10
epochs, batch 64. The same Keras model trained with ``model.fit`` on every
backend installed (TensorFlow, JAX, PyTorch), each in a fresh interpreter
since Keras picks its backend once per process, against this add-on's own
training loop (TensorFlow). On TensorFlow, ``fit`` is also tried with the
two options that move its work out of Python into the graph:
``steps_per_execution`` (an epoch's 32 batches per graph call, as the
add-on's loop does) and ``jit_compile`` (XLA; Keras's "auto" leaves it off
on a CPU). Prints the whole fit, compiling included, and the mean of epochs
2-10.

    python benchmarks/backends.py

A backend that is not installed is reported as such (the add-on itself
needs only TensorFlow; e.g. ``pip install jax`` adds JAX).
"""
import importlib.util
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BACKEND_MODULES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
FIT_OPTIONS = {
    "steps_per_execution=32": dict(steps_per_execution=32),
    "jit_compile": dict(jit_compile=True),
    "both": dict(steps_per_execution=32, jit_compile=True),
}

TRAIN = r"""
import json, os, sys, time
import numpy as np
sys.path.insert(0, {root!r})
from wide import BATCH, CLASSES, EPOCHS, HIDDEN, synthetic_expression

X, y = synthetic_expression(2000, 20000)
X = (X - X.mean(axis=0)) / X.std(axis=0)
ends = []
if {ours!r}:
    from orangecontrib.neuralgene.network import NetworkSpec, TrainingConfig
    from orangecontrib.neuralgene.tensorflow_startup import import_keras
    from orangecontrib.neuralgene.tensors import float32_copy
    from orangecontrib.neuralgene.training import train_network
    import_keras()
    spec = NetworkSpec(X.shape[1], CLASSES, (HIDDEN,), "relu", 0.5, 1e-4)
    config = TrainingConfig(EPOCHS, BATCH, 1e-3, 20, 0)
    X = float32_copy(X)
    start = time.perf_counter()
    train_network(X, y, spec, config,
                  epoch_callback=lambda *_: ends.append(time.perf_counter()))
else:
    # network.build_network's model, written out: calling it would import
    # TensorFlow into the JAX and PyTorch runs too
    import keras
    regularizer = keras.regularizers.L2(1e-4)
    model = keras.Sequential([
        keras.Input(shape=(X.shape[1],)),
        keras.layers.Dense(HIDDEN, activation="relu",
                           kernel_regularizer=regularizer),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(CLASSES, activation="softmax",
                           kernel_regularizer=regularizer)])
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss="sparse_categorical_crossentropy", **{options!r})

    class EpochEnds(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            ends.append(time.perf_counter())

    start = time.perf_counter()
    model.fit(X, y, epochs=EPOCHS, batch_size=BATCH, verbose=0,
              callbacks=[EpochEnds()])
print(json.dumps({{"fit": ends[-1] - start,
                   "epoch": (ends[-1] - ends[0]) / (len(ends) - 1)}}))
"""


def run(backend, ours=False, options=None):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    code = TRAIN.format(root=HERE, ours=ours, options=options or {})
    done = subprocess.run([sys.executable, "-c", code], env=env,
                          capture_output=True, text=True, cwd=HERE)
    if done.returncode:
        return None, done.stderr.strip().splitlines()[-1]
    return json.loads(done.stdout.strip().splitlines()[-1]), None


def main():
    print("2000 samples x 20,000 genes, 10 classes, hidden 256, 10 epochs, "
          "batch 64")
    print(f"  {'trainer':46s} {'whole fit':>10s} {'per epoch':>10s}")
    rows = [("Neural Gene Classifier's loop (TensorFlow)", "tensorflow",
             True, None)]
    rows += [(f"Keras fit, {backend} backend", backend, False, None)
             for backend in BACKEND_MODULES]
    rows += [(f"Keras fit, tensorflow, {label}", "tensorflow", False, options)
             for label, options in FIT_OPTIONS.items()]
    for label, backend, ours, options in rows:
        if importlib.util.find_spec(BACKEND_MODULES[backend]) is None:
            print(f"  {label:46s} not installed")
            continue
        times, error = run(backend, ours, options)
        if times is None:
            print(f"  {label:46s} failed: {error}")
        else:
            print(f"  {label:46s} {times['fit']:9.2f}s {times['epoch']:9.3f}s")


if __name__ == "__main__":
    main()
