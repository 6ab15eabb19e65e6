"""Many small networks trained side by side in one TensorFlow graph.

Choosing settings by inner cross-validation trains every candidate on every
inner fold: dozens of networks of a few thousand weights each, on a few
hundred samples. One at a time, each would pay TensorFlow's per-call and
tracing costs, which exceed the arithmetic of such a network. Here the
networks are stacked along a "network" axis: all first layers are one
matrix product with the shared expression matrix, the later layers batched
products, and many epochs run in one graph call.

Each network has its own
- genes and scaling: a per-network centre and scale of every column (scale 0
  for genes it does not use), applied inside its first layer, so one
  expression matrix serves every inner fold's gene selection and scaler;
- training rows: per-network sample weights (0 for rows it must not see),
  so inner folds hold out different rows of the same matrix;
- L2 penalty strength.
The networks of one stack share their hidden width, activation and dropout.

Weights and Adam's moments are values carried through the graph rather than
Keras variables, whose shape is fixed when they are made: one traced graph
then serves stacks of any size, on any number of genes and samples. Keras's
Adam can only update variables, hence the few lines of Adam below (and
TensorFlow's fused Adam kernel on variables of open shape was measured
slower). The gradient, too, is written out (``_trace`` says why), and
tested against TensorFlow's own and Keras's Adam. Numpy in, numpy out;
knows neither Orange nor Qt.
"""
import threading
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import scipy.sparse as sp

from orangecontrib.neuralgene import sparse_batches
from orangecontrib.neuralgene.network import NetworkSpec, TrainedNetwork
from orangecontrib.neuralgene.tensorflow_startup import import_keras
from orangecontrib.neuralgene.training_rules import TrainingDiverged

__all__ = ["StackLayout", "StackCurves", "KeepBest", "train_stack",
           "held_out_groups"]

EPOCHS_PER_CALL = 10
# TensorFlow runs up to ten iterations of a loop at once by default, and
# the batches' rows (of the coming epochs too) do not wait for the weights:
# their copies piled up, 0.6 GB an epoch on 10,000 cells of 20,000 genes
ONE_STEP_AT_A_TIME = dict(parallel_iterations=1)
ADAM_BETA_1, ADAM_BETA_2, ADAM_EPSILON = 0.9, 0.999, 1e-7
ACTIVATIONS_ALONG_AN_AXIS = ("softmax", "log_softmax")


@dataclass(frozen=True)
class StackLayout:
    """What the networks of one stack share."""
    n_classes: int
    hidden: int  # neurons in the one hidden layer; 0 for softmax regression
    # a Keras activation of each neuron alone: the stack's tensors hold
    # their networks along the last axis, along which softmax would work
    activation: str = "relu"
    dropout: float = 0.0


@dataclass
class StackCurves:
    """Per-epoch curves of every network: arrays of epochs × networks."""
    loss: np.ndarray
    accuracy: np.ndarray
    held_out_loss: Optional[np.ndarray] = None
    held_out_accuracy: Optional[np.ndarray] = None
    # the epoch (from 1) whose weights each returned network has
    kept_epoch: Optional[np.ndarray] = None


@dataclass(frozen=True)
class KeepBest:
    """Keras's EarlyStopping rule, kept in the graph: a network's weights
    are kept after every epoch at which its score fell below its best score
    by more than ``min_delta`` (that score then becomes the best). Its
    score is the sum, over the networks of its group, of their held-out
    losses times their ``weight``: e.g. the mean over a candidate's inner
    folds, for the candidate's network that trains on all rows."""
    group: np.ndarray  # per network, from 0
    weight: np.ndarray  # per network
    min_delta: float


# Called after every graph call with (epochs done, curves so far); returns
# True to stop, or raises to abort.
ChunkCallback = Callable[[int, StackCurves], bool]


def train_stack(X: np.ndarray, y: np.ndarray, layout: StackLayout,
                center: np.ndarray, scale: np.ndarray, l2: np.ndarray,
                train_weight: np.ndarray, held_out_weight=None,
                keep_epoch=None, keep_best: Optional[KeepBest] = None,
                returned: Optional[np.ndarray] = None,
                epochs: int = 100, batch_size: int = 32,
                rows_per_epoch: Optional[int] = None,
                learning_rate=1e-3, seed: int = 0,
                chunk_callback: Optional[ChunkCallback] = None
                ) -> Tuple[StackCurves, Optional[List[TrainedNetwork]]]:
    """Train a stack of networks on X (samples × genes, dense or scipy
    sparse, which stays sparse) and labels y.

    ``center`` and ``scale`` are networks × genes; a network sees
    ``(X - center) * scale``. ``train_weight`` and ``held_out_weight`` are
    networks × samples. ``learning_rate`` is Adam's, one for all networks
    or one each. Every network's weighted loss and accuracy on its
    training rows are those met in the epoch's batches; with held-out rows,
    its loss and accuracy on them are measured after every epoch, on those
    rows alone (see ``held_out_groups``). With
    ``keep_epoch`` (one epoch count per network), the
    weights each network had after that epoch are returned as
    ``TrainedNetwork``s that take the network's used genes (scale != 0),
    already scaled; with ``keep_best``, those of its best epoch by that
    rule (which needs held-out rows). ``returned`` (indices) limits the
    networks returned; all by default. With ``rows_per_epoch`` below the
    number of samples, an epoch trains on that many of them, drawn at
    random every epoch.
    """
    import_keras()  # the first import of TensorFlow goes through the add-on
    import tensorflow as tf

    n_networks = len(l2)
    evaluate = held_out_weight is not None
    if keep_best is not None and not evaluate:
        raise ValueError("keep_best needs held-out rows.")
    if layout.activation in ACTIVATIONS_ALONG_AN_AXIS:
        raise ValueError(f"The {layout.activation} activation works along an "
                         "axis; a stack's neurons are activated one by one.")
    keeps = keep_epoch is not None or keep_best is not None
    if keep_best is None:  # no score falls by more than infinity
        keep_best = KeepBest(np.arange(n_networks), np.zeros(n_networks),
                             np.inf)
    held_out_rows, held_out_weight = held_out_groups(
        held_out_weight if evaluate else np.zeros((n_networks, len(y))))
    fan_in = np.maximum((scale != 0).sum(axis=1), 1)
    sparse = sp.issparse(X)
    run_epochs = _graph(layout, sparse)
    weights = [tf.constant(w) for w in _initial_weights(
        X.shape[1], n_networks, layout, fan_in, seed)]
    zeros = [tf.zeros_like(w) for w in weights]
    best_score = tf.fill([n_networks], np.float32(np.inf))
    state = (*weights, *zeros, *zeros, *weights, best_score,
             tf.zeros([n_networks]))
    inputs = (
        sparse_batches.csr_tensors(X) if sparse
        else tf.constant(np.asarray(X, np.float32)),
        tf.constant(np.asarray(y, np.int32)),
        tf.constant(np.asarray(center, np.float32).T),
        tf.constant(np.asarray(scale, np.float32).T),
        tf.constant(np.asarray(l2, np.float32)),
        tf.constant(np.asarray(train_weight, np.float32).T),
        tf.constant(held_out_rows),
        tf.constant(held_out_weight.T),
        tf.constant(evaluate),
        tf.constant(np.asarray(
            keep_epoch if keep_epoch is not None else np.zeros(n_networks),
            np.int32)),
        tf.constant(np.asarray(keep_best.group, np.int32)),
        tf.constant(np.asarray(keep_best.weight, np.float32)),
        tf.constant(keep_best.min_delta, tf.float32),
        tf.constant(max(1, min(batch_size, len(y))), tf.int32),
        tf.constant(min(rows_per_epoch or len(y), len(y)), tf.int32),
        tf.constant(np.broadcast_to(learning_rate, n_networks), tf.float32),
        tf.constant([seed % 2 ** 31, 0], tf.int32))
    chunks = []
    done = 0
    while done < epochs:
        n_run = min(EPOCHS_PER_CALL, epochs - done)
        curves, state = run_epochs(*inputs, tf.constant(done, tf.int32),
                                   tf.constant(n_run, tf.int32), state)
        chunks.append(curves.numpy())
        done += n_run
        # a network whose loss became undefined leaves the others be: its
        # curves say so, and its caller decides
        if not np.any(np.isfinite(chunks[-1][:, 0])):
            raise TrainingDiverged(
                "Training diverged (the loss became infinite or undefined); "
                "lower the learning rate.")
        if chunk_callback is not None and chunk_callback(
                done, _curves(chunks, evaluate)):
            break
    curves = _curves(chunks, evaluate)
    networks = None
    if keeps:
        returned = (np.arange(n_networks) if returned is None
                    else np.asarray(returned))
        kept = [np.asarray(array)
                for array in state[3 * len(weights):4 * len(weights)]]
        networks = _trained_networks(kept, scale, layout, l2, returned)
        curves.kept_epoch = np.asarray(state[-1])[returned].astype(int)
    return curves, networks


def held_out_groups(held_out_weight: np.ndarray
                    ) -> Tuple[np.ndarray, np.ndarray]:
    """The rows on which the networks' held-out scores are measured.

    Network m belongs to group m % G, for the fewest groups G in which
    every network holds out the same rows as the rest of its group (on
    inner folds ordered candidate by candidate, fold by fold: the folds).
    Returns each group's rows, G × R, and each network's weight on its
    group's rows, networks × R; R is the most rows a group holds out,
    shorter groups padded with row 0 of weight 0. Measuring every network
    on every row would cost as many passes over the data as there are
    groups (on 3000 cells of 500 genes, a third of an epoch's time).
    """
    held_out = held_out_weight != 0
    n_networks = len(held_out)
    n_groups = next(g for g in range(1, n_networks + 1)
                    if n_networks % g == 0 and np.array_equal(
                        held_out, np.tile(held_out[:g], (n_networks // g, 1))))
    counts = held_out[:n_groups].sum(axis=1)
    rows = np.zeros((n_groups, max(1, int(counts.max()))), np.int32)
    for g in range(n_groups):
        rows[g, :counts[g]] = np.flatnonzero(held_out[g])
    padded = np.arange(rows.shape[1])[None, :] >= counts[:, None]
    repeats = (n_networks // n_groups, 1)
    weights = np.take_along_axis(np.asarray(held_out_weight, np.float32),
                                 np.tile(rows, repeats), axis=1)
    weights[np.tile(padded, repeats)] = 0
    return rows, weights


def _curves(chunks, evaluate):
    stacked = np.concatenate(chunks)  # epochs × 4 × networks
    return StackCurves(
        stacked[:, 0], stacked[:, 1],
        stacked[:, 2] if evaluate else None,
        stacked[:, 3] if evaluate else None)


def _initial_weights(n_genes, n_networks, layout, fan_in, seed):
    """Glorot-uniform weights, the first layer's scaled by each network's
    own number of genes; zero biases. Laid out as ``_SHAPES`` says."""
    rng = np.random.default_rng(seed)
    width = layout.hidden or layout.n_classes
    limit = np.sqrt(6 / (fan_in + width)).astype(np.float32)
    first = rng.random((n_genes, width, n_networks), np.float32)
    first *= 2
    first -= 1
    first *= limit
    weights = [first, np.zeros((width, n_networks), np.float32)]
    if layout.hidden:
        limit = np.sqrt(6 / (layout.hidden + layout.n_classes))
        weights += [rng.uniform(-limit, limit, (
                        n_networks, layout.hidden, layout.n_classes)
                    ).astype(np.float32),
                    np.zeros((layout.n_classes, n_networks), np.float32)]
    return weights


def _trained_networks(kept, scale, layout, l2, returned):
    networks = []
    for m in returned:
        genes = np.flatnonzero(scale[m])
        weights = [kept[0][genes, :, m], kept[1][:, m]]
        if layout.hidden:
            weights += [kept[2][m], kept[3][:, m]]
        spec = NetworkSpec(
            n_inputs=len(genes), n_classes=layout.n_classes,
            hidden_layers=(layout.hidden,) if layout.hidden else (),
            activation=layout.activation, dropout=layout.dropout,
            l2=float(l2[m]))
        networks.append(TrainedNetwork(spec, [np.array(w) for w in weights]))
    return networks


_graphs: Dict[tuple, object] = {}
_graphs_lock = threading.Lock()


def _graph(layout: StackLayout, sparse: bool):
    """The traced epochs loop of a kind of stack, whatever its size, for a
    dense or a sparse (``sparse_batches``) expression matrix."""
    key = (layout.hidden > 0, layout.activation, layout.dropout, sparse)
    with _graphs_lock:
        if key not in _graphs:
            _graphs[key] = _trace(*key)
        return _graphs[key]


# each weight's rank and the axis along which its networks are stacked: the
# last, but for the hidden layer's outgoing kernels (networks × hidden ×
# classes), which are multiplied network by network
_SHAPES = ((3, 2), (2, 1), (3, 0), (2, 1))


def _along(flags, axis, rank):
    """Per-network flags shaped to broadcast along a weight's network axis."""
    import tensorflow as tf
    return tf.reshape(flags, [-1 if a == axis else 1 for a in range(rank)])


def _trace(hidden, activation, dropout, sparse):
    """The graph of ``train_stack``. Its tensors hold the networks along
    their last axis (samples × classes × networks, genes × width ×
    networks): TensorFlow's CPU kernels ran several times slower on tensors
    whose last axis was a few classes, and per-network factors are made as
    large as the weights they multiply, for the same reason. The gradient
    is written out (softmax cross-entropy, a dense layer, dropout), and the
    activation's taken by TensorFlow: its gradient of the stacked layers
    made a step of 283 operations rather than 174 (softmax regressions),
    and on the small networks of the inner folds each operation costs
    more than its arithmetic."""
    keras = import_keras()
    import tensorflow as tf

    shapes = _SHAPES[:4 if hidden else 2]
    activate = keras.activations.get(activation)

    def first_layer_input(X, rows, kernel):
        """X's rows times the first layers' kernels (genes × k)."""
        if sparse:
            return sparse_batches.times(X, rows, kernel)
        return tf.matmul(tf.gather(X, rows), kernel)

    def first_layer_transposed_input(X, rows, upstream):
        """X's rows, transposed, times upstream (rows × k)."""
        if sparse:
            return sparse_batches.transposed_times(X, rows, upstream)
        return tf.matmul(tf.gather(X, rows), upstream, transpose_a=True)

    def scaled_first(weights, center, scale):
        """The first layers' kernels on centred, scaled input, and what
        centring subtracts from their products with uncentred input."""
        first = weights[0] * scale  # genes × width × networks
        return first, tf.reduce_sum(center * first, axis=0)

    def later_layers(z, weights, training, seed):
        """From the first layers' outputs (samples × width × networks) to
        the logits (samples × classes × networks), and what the gradient
        needs of the hidden layer."""
        if not hidden:
            return z, None
        with tf.GradientTape() as tape:
            tape.watch(z)
            activated = activate(z)
        survived, passed_on = None, activated  # survived: dropout's mask
        if training and dropout > 0:
            survived = tf.random.stateless_uniform(tf.shape(z), seed
                                                   ) >= dropout
            passed_on = tf.where(survived, activated / (1 - dropout), 0.0)
        per_network = tf.transpose(passed_on, [2, 0, 1])
        out = tf.transpose(tf.matmul(per_network, weights[2]), [1, 2, 0])
        return out + weights[3], (tape, z, activated, survived, per_network)

    def logits(X, rows, weights, center, scale, training, seed):
        first, offset = scaled_first(weights, center, scale)
        n_genes, width, n_networks = tf.unstack(tf.shape(first))
        z = tf.reshape(first_layer_input(X, rows,
                                         tf.reshape(first, [n_genes, -1])),
                       [-1, width, n_networks])
        return later_layers(z - offset + weights[1], weights, training,
                            seed)

    def held_out_logits(X, X_held_out, rows, weights, center, scale):
        """Every network's logits on its group's held-out rows (groups ×
        rows, ``held_out_groups``): rows × classes × networks."""
        first, offset = scaled_first(weights, center, scale)
        n_genes, width, n_networks = tf.unstack(tf.shape(first))
        n_groups, n_rows = tf.unstack(tf.shape(rows))
        per_group = n_networks // n_groups  # network m is in group m % G
        if sparse:
            # every network on every group's rows, then each on its own
            z = sparse_batches.times(X, tf.reshape(rows, [-1]),
                                     tf.reshape(first, [n_genes, -1]))
            z = tf.reshape(z, [n_groups, n_rows, width, per_group, n_groups])
            z = tf.linalg.diag_part(tf.transpose(z, [1, 2, 3, 4, 0]))
        else:
            kernels = tf.transpose(
                tf.reshape(first, [n_genes, width, per_group, n_groups]),
                [3, 0, 1, 2])  # groups × genes × width × networks of the group
            z = tf.matmul(X_held_out, tf.reshape(
                kernels, [n_groups, n_genes, width * per_group]))
            z = tf.transpose(
                tf.reshape(z, [n_groups, n_rows, width, per_group]),
                [1, 2, 3, 0])
        z = tf.reshape(z, [n_rows, width, n_networks])
        return later_layers(z - offset + weights[1], weights, False,
                            None)[0]

    def scores(out, y, weight):
        """Cross-entropy and hits (samples × networks) of the logits, and
        the gradient in them of the networks' summed loss, each its mean
        entropy by ``weight`` (samples × networks); y: the samples'
        classes (× 1) or each network's (samples × networks)."""
        top = tf.reduce_max(out, axis=1, keepdims=True)
        exp = tf.exp(out - top)
        total = tf.reduce_sum(exp, axis=1)
        truth = tf.one_hot(y, tf.shape(out)[1], axis=1)
        entropy = (top[:, 0] + tf.math.log(total)
                   - tf.reduce_sum(out * truth, axis=1))
        hits = tf.cast(tf.equal(
            tf.argmax(out, axis=1, output_type=tf.int32), y), tf.float32)
        share = weight / tf.maximum(
            tf.reduce_sum(weight, axis=0, keepdims=True), 1e-12)
        d_out = (exp / total[:, None] - truth) * share[:, None]
        return entropy, hits, d_out

    def gradients(X, rows, weights, center, scale, d_out, hidden_layer):
        """The gradients in every weight of the networks' summed loss, from
        its gradient in their logits (``scores``), back through the
        layers."""
        if hidden:
            tape, z, activated, survived, per_network = hidden_layer
            d_per_network = tf.transpose(d_out, [2, 0, 1])
            later = [tf.matmul(per_network, d_per_network, transpose_a=True),
                     tf.reduce_sum(d_out, axis=0)]
            d_activated = tf.transpose(tf.matmul(
                d_per_network, weights[2], transpose_b=True), [1, 2, 0])
            if survived is not None:
                d_activated = tf.where(survived, d_activated / (1 - dropout),
                                       0.0)
            d_z = tape.gradient(activated, z, output_gradients=d_activated)
        else:
            later, d_z = [], d_out
        n_rows, width, n_networks = tf.unstack(tf.shape(d_z))
        d_bias = tf.reduce_sum(d_z, axis=0)
        d_first = tf.reshape(first_layer_transposed_input(
            X, rows, tf.reshape(d_z, [n_rows, -1])), [-1, width, n_networks])
        return [(d_first - center * d_bias) * scale, d_bias, *later]

    def adam_update(w, m, v, g, rate):
        m = ADAM_BETA_1 * m + (1 - ADAM_BETA_1) * g
        v = ADAM_BETA_2 * v + (1 - ADAM_BETA_2) * tf.square(g)
        return w - rate * m / (tf.sqrt(v) + ADAM_EPSILON), m, v

    def run(X, y, center, scale, l2, train_weight, held_out_rows,
            held_out_weight, evaluate, keep_epoch, score_group,
            score_weight, min_delta, batch_size, epoch_rows,
            learning_rate, seed, first_epoch, n_epochs, state):
        n = sparse_batches.n_rows(X) if sparse else tf.shape(X)[0]
        n_weights = len(shapes)
        n_networks = tf.shape(l2)[0]
        shaped = [tf.shape(w) for w in state[:n_weights]]
        scale = tf.broadcast_to(scale[:, None], shaped[0])
        center = tf.broadcast_to(center[:, None], shaped[0])
        # the L2 penalty's gradient is decay * kernel (kernels: even places)
        decay = [tf.broadcast_to(_along(2 * l2, axis, rank), shape)
                 for shape, (rank, axis) in zip(shaped[::2], shapes[::2])]
        rates = [tf.broadcast_to(_along(learning_rate, axis, rank), shape)
                 for shape, (rank, axis) in zip(shaped, shapes)]
        X_held_out = None if sparse else tf.gather(X, held_out_rows)
        y_held_out = tf.tile(tf.transpose(tf.gather(y, held_out_rows)), [
            1, n_networks // tf.shape(held_out_rows)[0]])

        def one_epoch(epoch, step, state, curves):
            # a random permutation as XLA could compile it (it has no shuffle)
            order = tf.argsort(tf.random.stateless_uniform(
                [n], tf.stack([seed[0], epoch])))

            def one_batch(start, step, weights, first, second, sums):
                rows = order[start:tf.minimum(start + batch_size, epoch_rows)]
                weight = tf.gather(train_weight, rows)
                batch_y = tf.gather(y, rows)[:, None]
                out, hidden_layer = logits(X, rows, weights, center, scale,
                                           True, tf.stack([seed[0] + 1, step]))
                entropy, right, d_out = scores(out, batch_y, weight)
                grads = gradients(X, rows, weights, center, scale, d_out,
                                  hidden_layer)
                for kernel, kernel_decay in zip(range(0, n_weights, 2),
                                                decay):
                    grads[kernel] += kernel_decay * weights[kernel]
                step += 1
                t = tf.cast(step, tf.float32)
                correction = tf.sqrt(1 - ADAM_BETA_2 ** t) / (
                    1 - ADAM_BETA_1 ** t)
                updated = [adam_update(w, m, v, g, rate * correction)
                           for w, m, v, g, rate in zip(
                               weights, first, second, grads, rates)]
                weights, first, second = (list(u) for u in zip(*updated))
                sums += tf.stack([tf.reduce_sum(entropy * weight, axis=0),
                                  tf.reduce_sum(right * weight, axis=0),
                                  tf.reduce_sum(weight, axis=0)])
                return start + batch_size, step, weights, first, second, sums

            weights, first, second, kept = (
                list(state[i * n_weights:(i + 1) * n_weights])
                for i in range(4))
            best_score, kept_epoch = state[-2:]
            _, step, weights, first, second, sums = tf.while_loop(
                lambda start, *_: start < epoch_rows, one_batch,
                (tf.constant(0), step, weights, first, second,
                 tf.zeros([3, n_networks])), **ONE_STEP_AT_A_TIME)

            def scores_during_the_epoch():
                # the training rows' scores as they were met in the epoch's
                # batches spare a pass over the data
                total = tf.maximum(sums[2], 1e-12)
                return tf.stack([sums[0] / total, sums[1] / total,
                                 tf.zeros_like(total), tf.zeros_like(total)])

            def scores_after_the_epoch():
                out = held_out_logits(X, X_held_out, held_out_rows, weights,
                                      center, scale)
                total = tf.maximum(tf.reduce_sum(held_out_weight, axis=0),
                                   1e-12)
                entropy, right, _ = scores(out, y_held_out, held_out_weight)
                met = scores_during_the_epoch()
                return tf.stack([
                    met[0], met[1],
                    tf.reduce_sum(entropy * held_out_weight, axis=0) / total,
                    tf.reduce_sum(right * held_out_weight, axis=0) / total])

            row = tf.cond(evaluate, scores_after_the_epoch,
                          scores_during_the_epoch)
            # a network of weight 0 (e.g. one without held-out rows, whose
            # loss is then that of a padded row) adds nothing, not even NaN
            score = tf.gather(tf.math.unsorted_segment_sum(
                tf.math.multiply_no_nan(row[2], score_weight), score_group,
                n_networks), score_group)
            improved = score < best_score - min_delta  # never where undefined
            best_score = tf.where(improved, score, best_score)
            now = tf.logical_or(tf.equal(keep_epoch, epoch + 1), improved)
            kept = [tf.where(_along(now, axis, rank), w, k)
                    for w, k, (rank, axis) in zip(weights, kept, shapes)]
            kept_epoch = tf.where(now, tf.cast(epoch + 1, tf.float32),
                                  kept_epoch)
            return (epoch + 1, step,
                    (*weights, *first, *second, *kept, best_score,
                     kept_epoch),
                    curves.write(epoch - first_epoch, row))

        _, step, state, curves = tf.while_loop(
            lambda epoch, *_: epoch < first_epoch + n_epochs, one_epoch,
            (first_epoch,
             first_epoch * ((epoch_rows + batch_size - 1) // batch_size),
             state,
             tf.TensorArray(tf.float32, size=n_epochs)), **ONE_STEP_AT_A_TIME)
        return curves.stack(), state

    matrix = tf.TensorSpec([None, None], tf.float32)
    scalar = tf.TensorSpec([], tf.int32)
    state = tuple(tf.TensorSpec([None] * rank, tf.float32)
                  for rank, _ in shapes) * 4 + (
        tf.TensorSpec([None], tf.float32),) * 2
    return tf.function(run, autograph=False, input_signature=[
        sparse_batches.csr_signature() if sparse else matrix,
        tf.TensorSpec([None], tf.int32), matrix, matrix,
        tf.TensorSpec([None], tf.float32), matrix,
        tf.TensorSpec([None, None], tf.int32), matrix,
        tf.TensorSpec([], tf.bool), tf.TensorSpec([None], tf.int32),
        tf.TensorSpec([None], tf.int32), tf.TensorSpec([None], tf.float32),
        tf.TensorSpec([], tf.float32), scalar, scalar,
        tf.TensorSpec([None], tf.float32), tf.TensorSpec([2], tf.int32),
        scalar, scalar, state]).get_concrete_function()
