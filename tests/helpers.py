"""What the tests share, Qt aside (fresh interpreters import it): a small
synthetic expression table, the learner's quick settings by hand, and a
fresh interpreter to run code in (for what only a new process shows:
imports, pickles, stderr). The widgets' settings, waits and base class are
in widget_testing."""
import io
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import scipy.sparse as sp

from Orange.data import ContinuousVariable, DiscreteVariable, Domain, Table

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Settings by hand, one network of a few epochs: for tests of what training
# by hand does (validation split, early stopping, the architecture asked
# for, the network's weights). Tests of what any fit does use the defaults.
QUICK_MANUAL = dict(auto=False, ensemble_size=1, epochs=15,
                    hidden_layers=(16,))

# s; only a hung interpreter (e.g. a deadlocked import) takes this long
HUNG = 900
# set by the add-on's TensorFlow start-up in this process, and inherited by
# child processes, which would then start TensorFlow quietly however they
# import it
SET_BY_THE_ADD_ON = ("TF_CPP_MIN_LOG_LEVEL",)


def expression_arrays(n_samples=60, n_genes=40, n_classes=3, informative=5,
                      seed=0, shift=2.0):
    """Samples × genes of standard normal noise, and classes 0..k-1 in
    turn; class c raises genes c * informative … (c + 1) * informative - 1
    by ``shift`` standard deviations."""
    rng = np.random.RandomState(seed)
    y = np.arange(n_samples) % n_classes
    X = rng.normal(size=(n_samples, n_genes))
    for c in range(n_classes):
        X[y == c, c * informative:(c + 1) * informative] += shift
    return X, y


def expression_table(n_samples=60, n_genes=40, n_classes=3, informative=5,
                     seed=0, shift=2.0):
    """``expression_arrays`` as an Orange table with genes gene0, gene1, …
    and the class 'tumour' with values type0, type1, …"""
    X, y = expression_arrays(n_samples, n_genes, n_classes, informative,
                             seed, shift)
    domain = Domain(
        [ContinuousVariable(f"gene{i}") for i in range(n_genes)],
        DiscreteVariable("tumour", [f"type{c}" for c in range(n_classes)]))
    return Table.from_numpy(domain, X, y.astype(float))


def counts_table(n_cells=200, n_genes=2000, n_classes=3, markers=5,
                 density=0.05, seed=0):
    """Single-cell counts in a sparse table (CSR): in every cell about a
    ``density`` of the genes counted once or a few times, at random, and
    the ``markers`` genes of its class c (c * markers, …) counted more;
    genes gene0, gene1, …, class 'cell type' with values type0, type1, …"""
    rng = np.random.RandomState(seed)
    y = np.arange(n_cells) % n_classes
    per_cell = max(1, int(density * n_genes))
    X = sp.csr_matrix(
        (rng.poisson(1.0, n_cells * per_cell) + 1.0,
         rng.randint(n_genes, size=n_cells * per_cell),
         np.arange(n_cells + 1) * per_cell), shape=(n_cells, n_genes))
    rows = np.repeat(np.arange(n_cells), markers)
    genes = (y[:, None] * markers + np.arange(markers)).ravel()
    X = (X + sp.csr_matrix((rng.poisson(3.0, len(rows)).astype(float),
                            (rows, genes)), shape=X.shape)).tocsr()
    X.eliminate_zeros()
    domain = Domain(
        [ContinuousVariable(f"gene{i}") for i in range(n_genes)],
        DiscreteVariable("cell type", [f"type{c}" for c in range(n_classes)]))
    return Table.from_numpy(domain, X, y.astype(float))


def assert_valid_probabilities(model, data):
    """``model``'s probabilities for ``data``: one per class of its domain,
    finite, adding up to one."""
    probs = model(data, model.Probs)
    assert probs.shape == (len(data), len(model.domain.class_var.values)), \
        probs.shape
    assert np.all(np.isfinite(probs)), probs
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-6)
    return probs


def _without_the_add_on(env):
    """A copy of ``env`` (default: this process's environment) without the
    variables the add-on sets there."""
    env = dict(os.environ if env is None else env)
    for name in SET_BY_THE_ADD_ON:
        env.pop(name, None)
    return env


def fresh_interpreter(*args, stdin=None, env=None, binary=False):
    """A new interpreter run with ``args`` (a script, ``-m module`` or
    ``-c code``, and their arguments) in the repository's root, in ``env``
    (default: this process's environment) without what the add-on set
    there; the finished process, whatever its exit status. Input and output
    are text, or bytes where ``binary``."""
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=_without_the_add_on(env),
        input=stdin, capture_output=True, text=not binary, timeout=HUNG,
        check=False)


def run_in_fresh_interpreter(test, code, *args, stdin=None, env=None,
                             binary=False):
    """Run Python ``code`` with ``args`` as its arguments in a
    ``fresh_interpreter``; fail ``test`` with the end of its stderr unless
    it exits with 0."""
    done = fresh_interpreter("-c", textwrap.dedent(code), *args, stdin=stdin,
                             env=env, binary=binary)
    stderr = done.stderr if not binary else done.stderr.decode(
        errors="replace")
    test.assertEqual(done.returncode, 0, stderr[-3000:])
    return done


PREDICT = """
    import pickle, sys
    import numpy as np
    model, X = pickle.load(sys.stdin.buffer)
    np.save(sys.stdout.buffer, model.predict(X))
"""


def predict_in_fresh_interpreter(test, model, X):
    """The probabilities that ``model``, pickled and loaded in a new
    interpreter, gives samples X; and what the interpreter wrote to
    stderr."""
    done = run_in_fresh_interpreter(test, PREDICT, binary=True,
                                    stdin=pickle.dumps((model, X)))
    return np.load(io.BytesIO(done.stdout)), done.stderr.decode()


def start_fresh_interpreter(code, *args, env=None, stdout=None, stderr=None):
    """Python ``code`` with ``args`` in a new interpreter in the repository's
    root, as ``fresh_interpreter`` runs it, but started and not waited for:
    the ``subprocess.Popen``, writing to the files ``stdout`` and
    ``stderr``. The caller waits for it, and kills it if need be."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args], cwd=ROOT,
        env=_without_the_add_on(env), stdout=stdout, stderr=stderr)


def keras_best_epoch(loss, min_delta):
    """The best epoch, from 1, by the rule of Keras's EarlyStopping with
    ``min_delta``: a loss lower than the best one by more than min_delta is
    the new best; 0 where none is."""
    best, best_epoch = np.inf, 0
    for epoch, value in enumerate(loss, start=1):
        if value < best - min_delta:
            best, best_epoch = value, epoch
    return best_epoch
