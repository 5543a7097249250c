"""Train and score the MC-dropout classifier over frozen features (active learning, curriculum).

Plain torch on numpy arrays, no Ray or MLflow: a round's classifier is small (features ->
512 -> 256 classes per RAM variable) and trains in seconds on one core. The number of SGD steps
follows the labelled set's size (`epochs` passes, at least `min_steps`), so a round with 100
labels and one with 5,000 are both trained to convergence rather than for a fixed time.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from models.mc_dropout import MCDropoutHead
from pipelines.core.torch_fit import Batch, train_rounds
from pipelines.features.probes import weighted_f1

NUM_CLASSES = 256  # a RAM byte
# (step, generator) -> indices of the next minibatch: how a curriculum paces its data.
Sampler = Callable[[int, np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class HeadSpec:
    in_dim: int
    num_labels: int
    hidden: int = 512
    dropout: float = 0.25

    def build(self) -> MCDropoutHead:
        return MCDropoutHead(self.in_dim, self.num_labels, NUM_CLASSES, self.hidden,
                             self.dropout)


@dataclass(frozen=True)
class TrainSpec:
    epochs: int = 30
    min_steps: int = 300
    batch_size: int = 256
    lr: float = 3e-3
    weight_decay: float = 1e-4

    def steps_for(self, n: int) -> int:
        """SGD steps for n labelled examples: `epochs` passes, at least `min_steps`."""
        return max(self.min_steps, -(-self.epochs * n // self.batch_size))


def uniform_sampler(n: int, batch_size: int) -> Sampler:
    def sample(step: int, rng: np.random.Generator) -> np.ndarray:
        return rng.integers(0, n, size=min(batch_size, n))
    return sample


def fit_head(x: np.ndarray, y: np.ndarray, spec: HeadSpec, train: TrainSpec, seed: int,
             steps: int | None = None, sampler: Sampler | None = None,
             every: int = 0, on_eval: Callable[[int, MCDropoutHead], None] | None = None
             ) -> MCDropoutHead:
    """Adam on cross entropy over minibatches from `sampler` (uniform by default) for `steps`
    (default `train.steps_for(len(x))`); `on_eval(step, head)` runs every `every` steps and at
    the end. Seeded: the same inputs give the same weights."""
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] != spec.in_dim:
        raise ValueError(f"x must be (N >= 1, {spec.in_dim}), got {x.shape}")
    if y.shape != (x.shape[0], spec.num_labels):
        raise ValueError(f"y must be ({x.shape[0]}, {spec.num_labels}), got {y.shape}")
    if y.min() < 0 or y.max() >= NUM_CLASSES:
        raise ValueError(f"labels must lie in [0, {NUM_CLASSES}), got [{y.min()}, {y.max()}]")
    torch.manual_seed(seed)  # the initial weights and the dropout masks
    rng = np.random.default_rng(seed)  # the minibatches
    head = spec.build()
    steps = train.steps_for(len(x)) if steps is None else steps
    sampler = sampler or uniform_sampler(len(x), train.batch_size)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))

    def sampled(first: int, last: int) -> Iterator[Batch]:
        for step in range(first, last):
            idx = torch.from_numpy(np.asarray(sampler(step, rng), dtype=np.int64))
            yield {"x": xt[idx], "y": yt[idx]}

    # The shared loop in rounds of `every` steps (one round without on_eval), the last one
    # ending at `steps`. No validation split here: the score is the step reached, so the loop
    # keeps the last round's weights, and on_eval sees the head after each round.
    ends = [*range(every, steps, every), steps] if on_eval is not None and every else [steps]
    reached = iter(ends)

    def step_reached(model: nn.Module) -> float:
        step = next(reached)
        if on_eval is not None:
            on_eval(step, head)
        return float(step)

    train_rounds(head, _head_loss, (sampled(a, b) for a, b in itertools.pairwise([0, *ends])),
                 lr=train.lr, weight_decay=train.weight_decay, score=step_reached)
    return head


def _head_loss(head: nn.Module, batch: Batch) -> torch.Tensor:
    return head.loss(batch["x"], batch["y"])


def predict(head: MCDropoutHead, x: np.ndarray, batch: int = 8192) -> np.ndarray:
    """(N, L) most probable class per label head (dropout off)."""
    out = [head.probs(torch.from_numpy(np.asarray(x[i:i + batch], np.float32))).argmax(-1)
           for i in range(0, len(x), batch)]
    return torch.cat(out).numpy() if out else np.zeros((0, head.num_labels), np.int64)


def f1_per_label(head: MCDropoutHead, x: np.ndarray, y: np.ndarray,
                 names: tuple[str, ...]) -> dict[str, float]:
    """Weighted test F1 of each label head (the probes' metric)."""
    pred = predict(head, x)
    return {n: weighted_f1(y[:, i], pred[:, i]) for i, n in enumerate(names)}


def per_example_loss(head: MCDropoutHead, x: np.ndarray, y: np.ndarray,
                     batch: int = 8192) -> np.ndarray:
    """(N,) cross entropy of each example under the head (dropout off)."""
    head.eval()
    with torch.no_grad():
        out = [head.per_example_loss(torch.from_numpy(np.asarray(x[i:i + batch], np.float32)),
                                     torch.from_numpy(np.asarray(y[i:i + batch], np.int64)))
               for i in range(0, len(x), batch)]
    return torch.cat(out).numpy()


def head_state(head: MCDropoutHead, spec: HeadSpec) -> dict[str, Any]:
    """What a Ray task needs to rebuild the head (spec and weights, no pickled module)."""
    return {"spec": spec.__dict__, "weights": {k: v.clone() for k, v in
                                               head.state_dict().items()}}


def head_from_state(state: dict[str, Any]) -> MCDropoutHead:
    head = HeadSpec(**state["spec"]).build()
    head.load_state_dict(state["weights"])
    return head.eval()
