"""Choosing the network by inner cross-validation, and training the ensemble.

Inside the learner's ``fit``, on its training samples only: every candidate
of a small family (how many genes, a hidden layer or none, how strong the
L2 penalty) is trained on the training part of each stratified inner fold,
with genes ranked and scaled on that part alone, and its loss on the
held-out part is recorded after every epoch. A candidate's number of
epochs is its best by the mean held-out loss over the folds (improvements
under MIN_DELTA not counted); the candidates are ranked by that loss,
and the best few, trained on all the samples for their number of epochs,
make the ensemble: on up to MAX_INNER_SAMPLES samples trained beside the
inner folds, on more after the choice. Their probabilities are averaged.

The candidates of one layout (hidden layer or not) and number of genes are
trained together, all folds at once, by ``parallel_networks.train_stack``.

Numpy in, numpy out; knows neither Orange nor Qt.
"""
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.preprocessing import StandardScaler

from orangecontrib.neuralgene.gene_scores import anova_f_scores, top_genes
from orangecontrib.neuralgene.network import TrainedNetwork
from orangecontrib.neuralgene.parallel_networks import (
    KeepBest, StackLayout, train_stack)
from orangecontrib.neuralgene.sparse_expression import (
    fit_scaler, kept_columns)
from orangecontrib.neuralgene.training_rules import TrainingDiverged

__all__ = ["Candidate", "CandidateScore", "ModelSelection", "Member",
           "default_family", "family_notes", "genes_for_all", "FALLBACK",
           "inner_folds_for", "choose_and_train", "inner_cross_validation",
           "rank_candidates", "best_epochs", "patience_ran_out"]


@dataclass(frozen=True)
class Candidate:
    """One setting of the family: the genes kept, the network, the penalty."""
    n_genes: Optional[int]  # the top genes by ANOVA F; None keeps all
    hidden: int  # neurons of the one hidden layer; 0: softmax regression
    l2: float
    dropout: float = 0.0
    # "gene": every gene to unit variance; "common": one scale for all genes,
    # so that genes that vary more keep more say, as in unscaled data
    scaling: str = "gene"

    @property
    def network(self) -> str:
        return (f"hidden layer of {self.hidden}" if self.hidden
                else "no hidden layer")

    @property
    def genes(self) -> str:
        return "all" if self.n_genes is None else f"top {self.n_genes}"

    @property
    def scaled(self) -> str:
        return "each gene" if self.scaling == "gene" else "all genes together"

    def __str__(self):
        return (f"{self.genes} genes, {self.network}, L2 {self.l2:g}, "
                f"scaled {self.scaled}")

    def input_scale(self, deviations: np.ndarray) -> np.ndarray:
        """What each of the candidate's genes is multiplied by after
        centring, from the genes' standard deviations."""
        if self.scaling == "gene":
            return 1 / deviations
        return np.full(len(deviations),
                       1 / np.sqrt(np.mean(np.square(deviations))))


@dataclass
class CandidateScore:
    """How a candidate did on the held-out parts of the inner folds."""
    candidate: Candidate
    epochs: int  # its best epoch by the mean held-out loss (MIN_DELTA)
    accuracy: float
    log_loss: float
    chosen: bool = False
    # mean held-out loss and accuracy over the folds after every epoch
    loss_curve: List[float] = field(default_factory=list, repr=False)
    accuracy_curve: List[float] = field(default_factory=list, repr=False)


@dataclass
class ModelSelection:
    """The record of a model's automatic choice, for the widget, the report
    and Python users (``model.selection``)."""
    scores: List[CandidateScore]
    inner_folds: int
    n_samples: int  # samples the inner cross-validation used
    notes: List[str] = field(default_factory=list)

    @property
    def chosen(self) -> List[CandidateScore]:
        """The candidates in the ensemble, best first."""
        return sorted((score for score in self.scores if score.chosen),
                      key=lambda score: np.nan_to_num(score.log_loss))

    @property
    def held_out_curve(self) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        """Mean held-out loss and accuracy per epoch of the best candidate
        on the inner folds (None where there were no inner folds)."""
        best = self.chosen[0]
        if not best.loss_curve:
            return None
        return np.array(best.loss_curve), np.array(best.accuracy_curve)

    @property
    def fell_back(self) -> bool:
        return self.inner_folds == 0


@dataclass
class Member:
    """One network of the ensemble and the columns of the model's kept,
    scaled genes that it reads."""
    network: TrainedNetwork
    columns: np.ndarray


# The family. Softmax regression on all genes is logistic regression
# trained by Adam, which holds up on most expression cohorts; scaling all
# genes together rather than each to unit variance keeps the say of genes
# that vary most (it won on the breast cohorts, where most probes are
# noise); its penalty spans two decades, as the best one did on the panel
# (0.01 on clean cell types, 1 on the noisy breast cohorts); fewer genes
# help where few genes carry the classes; a hidden layer where classes are
# not separated by a weighted sum of genes. The rules and constants were
# compared on the validation panel with benchmarks/ensemble_rules.py.
LINEAR_PENALTIES = (1e-2, 1e-1, 1.0)
MAX_EPOCHS = 100
PATIENCE = 15  # epochs past every candidate's best one
# A candidate's best epoch, by Keras's EarlyStopping rule, is one whose
# held-out loss is below the last best one's by more than MIN_DELTA (nats,
# mean over samples): smaller gains are below what the table shows and the
# inner estimate's noise, but on separable classes (brown-selected) the
# loss creeps down by them for hundreds of epochs, and waiting for the
# last of them doubled the training time
MIN_DELTA = 1e-3
ENSEMBLE_SIZE = 5
MAX_INNER_FOLDS = 5
MIN_INNER_FOLDS = 3
MAX_INNER_SAMPLES = 1000
HIDDEN = 64
HIDDEN_DROPOUT = 0.5
# Where inner cross-validation is impossible (a class with fewer samples
# than MIN_INNER_FOLDS)
FALLBACK = Candidate(n_genes=None, hidden=0, l2=1e-2)
FALLBACK_EPOCHS = 50


# On tables of more values than this (samples × genes: 10,000 cells of
# 20,000 genes are 200 million), the candidates that would read all genes
# read the GENES_ON_LARGE_TABLES best instead, as single-cell analyses keep
# a few thousand variable genes: the time of the softmax regressions'
# steps grows with their weights, genes × classes, and a pass over the
# cells with their genes. Every panel set is below it.
LARGE_TABLE_VALUES = 50_000_000
GENES_ON_LARGE_TABLES = 2000


def genes_for_all(n_genes: int, n_samples: int = 0) -> Optional[int]:
    """What the family's "all genes" candidates keep: None (all) or, on
    large tables, the number of top genes."""
    if (n_samples * n_genes > LARGE_TABLE_VALUES
            and n_genes > GENES_ON_LARGE_TABLES):
        return GENES_ON_LARGE_TABLES
    return None


def default_family(n_genes: int, n_samples: int = 0) -> List[Candidate]:
    all_genes = genes_for_all(n_genes, n_samples)
    family = [Candidate(all_genes, 0, l2, scaling=scaling)
              for scaling in ("gene", "common") for l2 in LINEAR_PENALTIES]
    family += [Candidate(k, 0, l2) for k, l2 in ((200, 1e-2), (50, 1e-3))
               if k < n_genes]
    family += [Candidate(200 if 200 < n_genes else None, HIDDEN, l2,
                         HIDDEN_DROPOUT) for l2 in (1e-4, 1e-2)]
    return list(dict.fromkeys(family))


def family_notes(n_genes: int, n_samples: int) -> List[str]:
    """What the training notes say of ``default_family`` on such a table."""
    kept = genes_for_all(n_genes, n_samples)
    if kept is None:
        return []
    return [f"A large table ({n_samples:,} samples × {n_genes:,} genes): the "
            f"candidates read at most the top {kept:,} genes (by ANOVA F on "
            "the training samples) rather than all, which keeps training "
            "within minutes."]


# Adam moves every weight by about its learning rate per step, so a step
# moves a class's score in proportion to the number of genes (at first,
# when the steps agree) or its square root (later); the rate falls with the
# square root, so that no candidate overshoots in its first epoch
LEARNING_RATE_FOR_ONE_GENE = 0.1


def learning_rate_for(n_genes: int) -> float:
    return LEARNING_RATE_FOR_ONE_GENE / np.sqrt(max(n_genes, 1))


STEPS_PER_EPOCH = 8
MAX_BATCH = 1024


def batch_size_for(n_samples: int) -> int:
    """At most STEPS_PER_EPOCH steps per epoch, so that an epoch count
    chosen on the inner folds means about as many updates on all the
    samples; batches of at most MAX_BATCH rows."""
    return min(MAX_BATCH, max(32, -(-n_samples // STEPS_PER_EPOCH)))


def rows_per_epoch_for(n_samples: int) -> int:
    """Samples an epoch trains on: all of them, or, on tables of more than
    STEPS_PER_EPOCH batches of MAX_BATCH rows (e.g. 100,000 cells), that
    many drawn at random every epoch. An epoch then makes as many updates
    as one of the inner folds, and costs what one on 8192 samples does;
    larger batches would make each update more precise, not more of them."""
    return min(n_samples, STEPS_PER_EPOCH * MAX_BATCH)


# The ensemble's genes of sparse tables are made dense up to this many
# values (256 MB); beyond, its stacks read them sparse, a block of rows at
# a time (100,000 cells of 2000 genes would take 800 MB dense, a copy)
DENSE_UP_TO = 2 ** 26

# the automatic choice sets no learning rate to lower, unlike
# training_rules' message
DIVERGED = "Training diverged (the loss became infinite or undefined)."

# Called with (fraction done, message); raising aborts.
ProgressCallback = Callable[[float, str], None]


def choose_and_train(X, y, weights, family: Sequence[Candidate],
                     seed: int, ensemble_size: int = ENSEMBLE_SIZE,
                     progress: Optional[ProgressCallback] = None
                     ) -> Tuple[ModelSelection, np.ndarray, StandardScaler,
                                List[Member], dict]:
    """Choose among ``family`` by inner cross-validation on X, y (samples ×
    genes, classes 0..k-1) and train the ensemble on all of X.

    Returns the selection record, the indices of the genes the ensemble
    reads, the scaler fitted on them, the members, and the training
    history to show (the best member's loss per epoch on all samples, and
    the mean held-out loss of its candidate on the inner folds).
    """
    report = progress or (lambda *_: None)
    n_folds = min(inner_folds_for(len(y)), int(np.bincount(y).min()))
    n_classes = int(y.max()) + 1
    if n_folds < MIN_INNER_FOLDS:
        selection = ModelSelection(
            [CandidateScore(FALLBACK, FALLBACK_EPOCHS, np.nan, np.nan,
                            chosen=True)], 0, 0,
            [f"A class has fewer than {MIN_INNER_FOLDS} samples, too few "
             "for choosing the network by inner cross-validation: trained "
             f"the fixed fallback ({FALLBACK}, {FALLBACK_EPOCHS} epochs)."])
    else:
        beside = len(y) <= MAX_INNER_SAMPLES
        share, stage = ((1, "Choosing and training the networks") if beside
                        else (0.8, "Choosing the network"))
        report(0, stage)
        selection, trained = inner_cross_validation(
            X, y, weights, family, n_folds, seed, n_classes, ensemble_size,
            lambda done: report(share * done, stage), train_beside=beside)
        if beside:
            return (selection,
                    *_ensemble_trained_beside(X, selection, trained))
    report(0.8, "Picking the genes of the chosen networks")
    return (selection, *_train_ensemble(
        X, y, weights, selection, seed, n_classes,
        lambda done: report(0.8 + 0.2 * done, "Training the chosen networks")))


def inner_folds_for(n_samples: int) -> int:
    """Inner folds on so many training samples, classes large enough.

    Where the inner cross-validation reads MAX_INNER_SAMPLES samples, it
    splits them into MIN_INNER_FOLDS folds: every sample is still held out
    once, each fold holds out 333, and the stacks have 3/5 of the networks
    (on the panel's three tables of 2500-3000 cells the CV took 25-30%
    less time, and accuracy moved by 0.003 or less)."""
    return (MIN_INNER_FOLDS if n_samples >= MAX_INNER_SAMPLES
            else MAX_INNER_FOLDS)


@dataclass
class TrainedBeside:
    """A candidate's network trained on all the samples in the stack of its
    inner folds, kept at its number of epochs."""
    network: TrainedNetwork
    genes: np.ndarray  # the columns of X it reads
    scale: np.ndarray  # what it multiplied them by, after centring
    history: dict


def inner_cross_validation(X, y, weights, family, n_folds, seed,
                           n_classes, ensemble_size, progress,
                           train_beside=False
                           ) -> Tuple[ModelSelection,
                                      Dict[Candidate, TrainedBeside]]:
    """Every candidate's inner scores, the best ``ensemble_size`` chosen.

    With ``train_beside``, each candidate's stack also trains its network
    on all the samples, one more network beside its inner folds' (on tables
    of a few hundred samples the stacks' time goes into TensorFlow's cost
    per step, whatever their size, and training the ensemble after them
    took a quarter of the time). It is kept at the candidate's number of
    epochs, as the folds' mean held-out loss says, in the graph; those
    networks are returned by candidate (none without ``train_beside``)."""
    notes = []
    n_total = len(y)
    if n_total > MAX_INNER_SAMPLES:
        rows, _ = train_test_split(
            np.arange(n_total), train_size=MAX_INNER_SAMPLES, stratify=y,
            random_state=seed)
        X, y, weights = X[rows], y[rows], weights[rows]
        notes.append(f"The network was chosen on {MAX_INNER_SAMPLES} of the "
                     f"{n_total} samples (stratified), then trained on all.")
    folds = list(StratifiedKFold(n_folds, shuffle=True, random_state=seed)
                 .split(np.zeros(len(y)), y))
    batch_size = batch_size_for(len(folds[0][0]))
    if train_beside:
        folds.append((np.arange(len(y)), np.arange(0)))
    fold_scores = [anova_f_scores(X[train], y[train]) for train, _ in folds]
    scalers = [fit_scaler(X[train]) for train, _ in folds]

    merged = {}
    for candidate in family:
        merged.setdefault(stack_key(candidate, X.shape[1]),
                          []).append(candidate)

    stacks = list(merged.items())
    report_stack = _combined_progress(len(stacks), progress)

    def train(i):
        (hidden, dropout, _), candidates = stacks[i]

        def report(epochs):
            report_stack(i, epochs / MAX_EPOCHS)

        return _train_on_folds(
            X, y, weights, candidates, folds, fold_scores, scalers,
            StackLayout(n_classes, hidden, "relu", dropout), batch_size,
            seed + i, report, n_folds)

    scores, trained = [], {}
    for stack_scores, stack_trained in _train_stacks(train, len(stacks), X):
        scores += stack_scores
        trained.update(stack_trained)
    scores.sort(key=lambda score: family.index(score.candidate))
    for score in rank_candidates(scores)[:ensemble_size]:
        score.chosen = True
    return ModelSelection(scores, n_folds, len(y), notes), trained


# On tables of more genes than this, candidates on the top genes train in a
# stack apart from those on all genes, a stack that reads only the genes
# some fold keeps: there the time goes into passes over the weights. On
# fewer genes it goes into the steps themselves, whatever the stack's size.
SEPARATE_TOP_GENES_ABOVE = 1000


def stack_key(candidate: Candidate, n_genes: int) -> tuple:
    """Candidates with equal keys train in one stack."""
    apart = (candidate.n_genes is not None
             and n_genes > SEPARATE_TOP_GENES_ABOVE)
    return candidate.hidden, candidate.dropout, apart


# On tables of at most this many values (samples × genes), a stack's time
# goes into TensorFlow's per-step overhead, which keeps one core busy: there
# the stacks train side by side in threads (a running graph releases the
# GIL). On larger ones each stack's matrix products use every core already.
SIDE_BY_SIDE_UP_TO = 2_000_000


def _train_stacks(train, n_stacks, X):
    """``[train(i) for i in range(n_stacks)]``: in threads where X is small,
    one after another otherwise."""
    n_threads = min(os.cpu_count() or 1, 4, n_stacks)
    if X.shape[0] * X.shape[1] > SIDE_BY_SIDE_UP_TO or n_threads < 2:
        return [train(i) for i in range(n_stacks)]
    with ThreadPoolExecutor(n_threads) as pool:
        return list(pool.map(train, range(n_stacks)))


def _combined_progress(n_stacks, progress):
    """``report(i, fraction)`` for stack i that calls ``progress`` with the
    mean over the stacks, in order even when the stacks run in threads."""
    done = np.zeros(n_stacks)
    lock = threading.Lock()

    def report(i, fraction):
        with lock:
            done[i] = fraction
            progress(done.mean())
    return report


def rank_candidates(scores: List[CandidateScore]) -> List[CandidateScore]:
    """Best first: by held-out log loss."""
    return sorted(scores, key=lambda s: s.log_loss)


def _train_on_folds(X, y, weights, candidates, folds, fold_scores, scalers,
                    layout, batch_size, seed, progress, n_folds
                    ) -> Tuple[List[CandidateScore],
                               Dict[Candidate, TrainedBeside]]:
    """Every candidate on every fold, in one stack; networks are ordered
    candidate by candidate, fold by fold. Folds past the first ``n_folds``
    hold out no rows: there, the candidate's network on all samples."""
    fold_genes = [[top_genes(scores, c.n_genes) for scores in fold_scores]
                  for c in candidates]
    columns = np.unique(np.concatenate(
        [genes for per_fold in fold_genes for genes in per_fold]))
    per_candidate = len(folds)
    n_networks = len(candidates) * per_candidate
    center = np.zeros((n_networks, len(columns)), np.float32)
    scale = np.zeros_like(center)
    train_weight = np.zeros((n_networks, len(y)), np.float32)
    held_out_weight = np.zeros_like(train_weight)
    l2 = np.zeros(n_networks)
    m = 0
    for c, candidate in enumerate(candidates):
        for f, (train, held_out) in enumerate(folds):
            used = np.searchsorted(columns, fold_genes[c][f])
            center[m] = scalers[f].mean_[columns]
            scale[m, used] = candidate.input_scale(
                scalers[f].scale_[columns[used]])
            train_weight[m, train] = weights[train]
            held_out_weight[m, held_out] = weights[held_out]
            l2[m] = candidate.l2
            m += 1

    def stop_when_patience_ran_out(done, curves):
        progress(done)  # may raise to abort
        return patience_ran_out(
            _mean_over_folds(curves.held_out_loss, n_folds, per_candidate))

    inner = np.arange(n_networks) % per_candidate < n_folds
    beside = np.flatnonzero(~inner)
    keep = None
    if len(beside):
        # a candidate's network on all samples is kept by the mean
        # held-out loss of its folds
        keep = KeepBest(np.arange(n_networks) // per_candidate,
                        inner / n_folds, MIN_DELTA)
    if len(columns) < X.shape[1]:
        X = kept_columns(X, columns)
    curves, networks = train_stack(
        X, y, layout, center, scale, l2, train_weight,
        held_out_weight, keep_best=keep, returned=beside,
        epochs=MAX_EPOCHS, batch_size=batch_size,
        learning_rate=learning_rate_for_each(scale), seed=seed,
        chunk_callback=stop_when_patience_ran_out)
    # where networks trained beside, the epochs at which the graph kept them
    # (the mean held-out loss in numpy could differ in its last bit)
    scores = _scores(candidates, curves, n_folds, per_candidate,
                     curves.kept_epoch)
    trained = {}
    for c, m in enumerate(beside):
        epochs = scores[c].epochs
        if not (curves.kept_epoch[c]
                and np.isfinite(curves.loss[epochs - 1, m])):
            # its network on all samples diverged: never chosen unless all
            # candidates did
            scores[c].log_loss = np.inf
            continue
        genes = np.flatnonzero(scale[m])
        trained[candidates[c]] = TrainedBeside(
            networks[c], columns[genes], scale[m, genes],
            {"loss": curves.loss[:epochs, m].tolist(),
             "accuracy": curves.accuracy[:epochs, m].tolist()})
    return scores, trained


def learning_rate_for_each(scale):
    """Learning rates of a stack's networks, by the genes each reads."""
    return np.array([learning_rate_for(n) for n in (scale != 0).sum(axis=1)],
                    np.float32)


def _mean_over_folds(curve, n_folds, per_candidate):
    """epochs × (candidates × folds) -> epochs × candidates, over the first
    n_folds of every candidate's ``per_candidate`` networks"""
    return curve.reshape(len(curve), -1, per_candidate)[:, :, :n_folds].mean(
        axis=2)


def best_epochs(loss: np.ndarray) -> np.ndarray:
    """For every column of loss (epochs × candidates), the index of its
    best epoch by Keras's EarlyStopping rule with ``min_delta``: an epoch
    whose loss is below the best epoch's by more than MIN_DELTA becomes
    the best. An undefined loss never does."""
    lowest = np.full(loss.shape[1], np.inf)
    best = np.zeros(loss.shape[1], int)
    for epoch, row in enumerate(loss):
        improved = row < lowest - MIN_DELTA
        lowest[improved] = row[improved]
        best[improved] = epoch
    return best


def patience_ran_out(loss: np.ndarray) -> bool:
    """Whether the inner folds' training may stop: no candidate's mean
    held-out loss (epochs × candidates) has had a new best epoch
    (``best_epochs``) for more than PATIENCE epochs."""
    return len(loss) - best_epochs(loss).max() > PATIENCE


def _scores(candidates, curves, n_folds, per_candidate, epochs=None
            ) -> List[CandidateScore]:
    """Each candidate's scores at its number of ``epochs``; by default,
    those ``best_epochs`` gives."""
    # a candidate whose training diverged on a fold is never the best
    loss = np.nan_to_num(_mean_over_folds(curves.held_out_loss, n_folds,
                                          per_candidate), nan=np.inf)
    accuracy = _mean_over_folds(curves.held_out_accuracy, n_folds,
                                per_candidate)
    best = (best_epochs(loss) if epochs is None
            else np.maximum(np.asarray(epochs), 1) - 1)
    return [CandidateScore(candidate, int(best[c]) + 1,
                           float(accuracy[best[c], c]),
                           float(loss[best[c], c]),
                           loss_curve=loss[:, c].tolist(),
                           accuracy_curve=accuracy[:, c].tolist())
            for c, candidate in enumerate(candidates)]


def _ensemble_trained_beside(X, selection, trained):
    """The members, from the chosen candidates' networks trained beside
    their inner folds."""
    chosen = selection.chosen
    if any(score.candidate not in trained for score in chosen):
        raise TrainingDiverged(DIVERGED)
    beside = [trained[s.candidate] for s in chosen]
    columns = np.unique(np.concatenate([b.genes for b in beside]))
    scaler = fit_scaler(kept_columns(X, columns, DENSE_UP_TO))
    members = []
    for b in beside:
        used = np.searchsorted(columns, b.genes)
        members.append(_member(b.network, b.scale, used, scaler))
    return columns, scaler, members, beside[0].history


def _member(network, scale, used, scaler) -> Member:
    """A network trained on (x - mean) * scale of the model's kept genes
    ``used``, as a member that reads them scaled by the model's scaler,
    each to unit variance."""
    weights = list(network.weights)
    weights[0] = (weights[0] * (scale * scaler.scale_[used])[:, None]
                  ).astype(np.float32)
    return Member(TrainedNetwork(network.spec, weights), used)


def _train_ensemble(X, y, weights, selection, seed, n_classes, progress):
    chosen = selection.chosen
    scores = anova_f_scores(X, y) if any(
        s.candidate.n_genes is not None for s in chosen) else None
    member_genes = [top_genes(scores, s.candidate.n_genes)
                    if s.candidate.n_genes is not None
                    else np.arange(X.shape[1]) for s in chosen]
    columns = np.unique(np.concatenate(member_genes))
    X_kept = kept_columns(X, columns, DENSE_UP_TO)
    scaler = fit_scaler(X_kept)
    batch_size = batch_size_for(len(y))
    members: List[Optional[Member]] = [None] * len(chosen)
    histories = [None] * len(chosen)
    stacks = {}
    for i, score in enumerate(chosen):
        stacks.setdefault(stack_key(score.candidate, X.shape[1]),
                          []).append(i)
    stack_items = list(stacks.items())
    report_stack = _combined_progress(len(stack_items), progress)

    def train(g):
        (hidden, dropout, _), indices = stack_items[g]
        keep_epochs = np.array([chosen[i].epochs for i in indices])
        n_epochs = keep_epochs.max()

        def report(epochs, _):
            report_stack(g, epochs / n_epochs)

        # positions in the model's kept genes of the genes this stack reads
        reads = np.searchsorted(columns, np.unique(np.concatenate(
            [member_genes[i] for i in indices])))
        scale = np.zeros((len(indices), len(reads)), np.float32)
        for row, i in enumerate(indices):
            used = np.searchsorted(reads, np.searchsorted(
                columns, member_genes[i]))
            scale[row, used] = chosen[i].candidate.input_scale(
                scaler.scale_[reads[used]])
        curves, networks = train_stack(
            kept_columns(X_kept, reads, DENSE_UP_TO), y,
            StackLayout(n_classes, hidden, "relu", dropout),
            np.tile(scaler.mean_[reads], (len(indices), 1)), scale,
            np.array([chosen[i].candidate.l2 for i in indices]),
            np.tile(weights, (len(indices), 1)),
            keep_epoch=keep_epochs, epochs=n_epochs, batch_size=batch_size,
            rows_per_epoch=rows_per_epoch_for(len(y)),
            learning_rate=learning_rate_for_each(scale),
            seed=seed + 1000 + g, chunk_callback=report)
        if not np.all(np.isfinite(curves.loss[keep_epochs - 1,
                                              np.arange(len(indices))])):
            raise TrainingDiverged(DIVERGED)
        for row, i in enumerate(indices):
            nonzero = np.flatnonzero(scale[row])
            members[i] = _member(networks[row], scale[row, nonzero],
                                 reads[nonzero], scaler)
            histories[i] = {
                "loss": curves.loss[:chosen[i].epochs, row].tolist(),
                "accuracy": curves.accuracy[:chosen[i].epochs, row].tolist()}

    _train_stacks(train, len(stack_items), X_kept)
    return columns, scaler, members, histories[0]
