"""The project's one small torch training loop, and the Ray task that runs it.

Every small model trains here: the linear probes (`features/probes.py`), the active-learning
head (`active/head.py`), and the models of the multimodal, multi-task, generative and few-shot
stages. `train_rounds` is the loop: Adam over rounds of minibatches, the model scored after
each round, the best round's weights kept, early stopping on a patience; `fit` runs it for
epochs of shuffled minibatches over numpy arrays, seeded by a local generator.

The models are small (MLPs over frozen features, one NatureCNN at most), so each trains as a
plain torch loop inside one Ray task (`num_cpus=1`): several variants train side by side on
the cluster's CPUs, and Ray Train's per-fit start-up (10-20 s measured here) is not paid.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

if TYPE_CHECKING:
    import ray

Batch = dict[str, torch.Tensor]
Loss = Callable[[nn.Module, Batch], torch.Tensor]
Score = Callable[[nn.Module], float]  # higher is better; runs in eval mode, without autograd


@dataclass
class FitResult:
    model: nn.Module  # with the weights of the best validation epoch
    best_score: float
    best_epoch: int
    train_time_s: float
    history: list[dict[str, float]] = field(default_factory=list)


def batches(arrays: Mapping[str, np.ndarray], batch_size: int, generator: torch.Generator
            | None = None, shuffle: bool = True) -> Iterator[Batch]:
    """Minibatches of tensors over the rows of `arrays` (all of one length)."""
    n = len(next(iter(arrays.values())))
    order = torch.randperm(n, generator=generator).numpy() if shuffle else np.arange(n)
    for start in range(0, n, batch_size):
        idx = order[start:start + batch_size]
        yield {k: torch.from_numpy(np.ascontiguousarray(v[idx])) for k, v in arrays.items()}


def train_rounds(model: nn.Module, loss_fn: Loss, rounds: Iterable[Iterable[Batch]], *,
                 lr: float, score: Score | None = None, weight_decay: float = 0.0,
                 min_batch: int = 1, patience: int | None = None) -> FitResult:
    """Adam on `loss_fn(model, batch)` over each round's batches (an epoch, or a number of
    sampled steps), then `score(model)`; keeps the weights of the round with the best score
    (the last round when no score is given) and leaves the model in eval mode.

    Batches smaller than `min_batch` are skipped (contrastive losses need negatives). With
    `patience` (and a `score`), training stops after that many rounds without a better score.
    Rounds are drawn lazily, so a round's shuffle happens when the round starts."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    best, best_epoch, best_state = -float("inf"), -1, None
    history: list[dict[str, float]] = []
    start = time.perf_counter()
    for epoch, round_batches in enumerate(rounds):
        model.train()
        total, seen = 0.0, 0
        for batch in round_batches:
            n = len(next(iter(batch.values())))
            if n < min_batch:
                continue
            loss = loss_fn(model, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total, seen = total + loss.item() * n, seen + n
        model.eval()
        with torch.no_grad():
            val = score(model) if score is not None else float(epoch)
        history.append({"epoch": epoch, "loss": total / max(seen, 1), "val": val})
        if val > best:
            best, best_epoch, best_state = val, epoch, copy.deepcopy(model.state_dict())
        elif patience is not None and score is not None and epoch - best_epoch >= patience:
            break
    elapsed = time.perf_counter() - start
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return FitResult(model, float(best), best_epoch, elapsed, history)


def fit(model: nn.Module, loss_fn: Loss, train: Mapping[str, np.ndarray], *, epochs: int,
        batch_size: int, lr: float, seed: int | torch.Generator, score: Score | None = None,
        weight_decay: float = 0.0, min_batch: int = 1, patience: int | None = None
        ) -> FitResult:
    """`train_rounds` over `epochs` epochs of minibatches of `train`, shuffled by `seed`: an
    int seeds a fresh generator; a generator goes on from its state (the linear probes draw
    their initial weights from it first, so one seed fixes both). The global RNG is left alone.
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError("epochs and batch_size must be >= 1")
    gen = seed if isinstance(seed, torch.Generator) else torch.Generator().manual_seed(seed)
    return train_rounds(model, loss_fn, (batches(train, batch_size, gen) for _ in range(epochs)),
                        lr=lr, score=score, weight_decay=weight_decay, min_batch=min_batch,
                        patience=patience)


@torch.no_grad()
def predict(model: nn.Module, arrays: Mapping[str, np.ndarray], batch_size: int = 1024,
            call: Callable[[nn.Module, Batch], torch.Tensor] | None = None) -> np.ndarray:
    """Model outputs over all rows, in order (`call(model, batch)`; default model(batch))."""
    model.eval()
    outs = [(call(model, b) if call else model(b)).numpy()
            for b in batches(arrays, batch_size, shuffle=False)]
    return np.concatenate(outs)


def _in_task(fn: Callable[..., Any], threads: int, *args: Any, **kwargs: Any) -> Any:
    torch.set_num_threads(threads)  # one CPU per task: no oversubscription between tasks
    return fn(*args, **kwargs)


def submit(fn: Callable[..., Any], *args: Any, threads: int = 1, **kwargs: Any
           ) -> ray.ObjectRef:
    """Run `fn(*args, **kwargs)` in a Ray task holding `threads` CPUs."""
    import ray  # here, not at the top: the probes and the active-learning head train without Ray

    remote = ray.remote(num_cpus=threads, max_retries=1)(_in_task)
    return remote.remote(fn, threads, *args, **kwargs)


def binary_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """F1 of the positive class, macro F1 (mean over both classes: predicting one class for
    everything scores at most 0.5), accuracy, and the positive rate of y_true."""
    y_true, y_pred = np.asarray(y_true, bool), np.asarray(y_pred, bool)

    def f1(t: np.ndarray, p: np.ndarray) -> float:
        denom = float(np.sum(t) + np.sum(p))
        return 2 * float(np.sum(t & p)) / denom if denom else 0.0

    pos, neg = f1(y_true, y_pred), f1(~y_true, ~y_pred)
    return {"f1": pos, "macro_f1": (pos + neg) / 2,
            "accuracy": float(np.mean(y_true == y_pred)) if len(y_true) else 0.0,
            "positive_rate": float(np.mean(y_true)) if len(y_true) else 0.0}
