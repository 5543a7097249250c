"""Stream-based active learning on a live ALE rollout: each frame is seen once, and the oracle
(the emulator's RAM at that instant) is asked only when the classifier is unsure enough.

The threshold is tuned to a label budget (Settles 2009, §2.2; Zliobaite et al. 2014 adapt it
to keep a labelling rate): it starts at the (1 - rate) quantile of the uncertainty over a
calibration window, rate = budget / frames, and then follows the realised query rate
(stochastic approximation: up after a query, down after a pass, drift zero at the rate).
The classifier retrains every `stream_retrain_every` labels. For reference, a random stream
learner with the same number of labels is trained too.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from agents.atari_env import ale_of, make_collect_env
from pipelines.active import acquisition as acq
from pipelines.active.head import f1_per_label, fit_head
from pipelines.data.labels import extract_labels
from pipelines.data.views import stack_frames
from pipelines.features.extract import encode

if TYPE_CHECKING:
    from pipelines.active.stage import ActiveContext

log = logging.getLogger("arcadelab")


def calibrate_threshold(scores: np.ndarray, rate: float) -> float:
    """The threshold that `rate` of `scores` exceed: their (1 - rate) quantile."""
    scores = np.asarray(scores, dtype=float)
    if scores.size == 0:
        raise ValueError("need at least one calibration score")
    if not 0.0 < rate <= 1.0:
        raise ValueError(f"rate must lie in (0, 1], got {rate}")
    return float(np.quantile(scores, 1.0 - rate))


def update_threshold(theta: float, queried: bool, rate: float, step: float) -> float:
    """theta * exp(step * (queried - rate)): raised after a query, lowered after a pass, so
    the expected change is zero exactly when frames are queried at `rate`."""
    return float(theta * math.exp(step * ((1.0 if queried else 0.0) - rate)))


def should_query(score: float, theta: float, used: int, budget: int) -> bool:
    """Ask the oracle iff the frame is more uncertain than the threshold and budget is left."""
    return used < budget and score > theta


@dataclass(frozen=True)
class StreamResult:
    frames: int  # frames the stream showed
    labels_used: int  # labels bought from the stream (beyond the seed set)
    seed_labels: int
    f1: float  # target labels' mean test F1 at the end
    random_f1: float  # the same with as many uniformly drawn stream frames
    threshold: float  # final threshold
    curve: tuple[tuple[int, float], ...]  # (labels used, F1) at each retrain

    def describe(self) -> str:
        return (f"stream: {self.labels_used} labels of {self.frames} frames, F1 {self.f1:.3f} "
                f"(random stream {self.random_f1:.3f})")


def _live_frames(ctx: ActiveContext, n: int, seed: int
                 ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (stack84/full observation, RAM) for n steps of a random-policy live rollout."""
    cfg = ctx.cfg
    env = make_collect_env(cfg.game, frameskip=cfg.data.frameskip,
                           repeat_action_probability=cfg.data.repeat_action_probability,
                           max_episode_steps=cfg.data.max_episode_steps)
    env.action_space.seed(seed)
    view = ctx.encoder.view
    channels = ctx.encoder.spec.in_channels
    def image(obs: dict[str, np.ndarray] | np.ndarray) -> np.ndarray:
        return obs["image"] if isinstance(obs, dict) else obs  # sound_obs: {image, sound}

    try:
        obs, _ = env.reset(seed=seed)
        recent: deque[np.ndarray] = deque([image(obs)], maxlen=channels)
        for _ in range(n):
            yield stack_frames(np.stack(recent), view)[-1], ale_of(env).getRAM().copy()
            obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
            if terminated or truncated:
                obs, _ = env.reset()
                recent.clear()
            recent.append(image(obs))
    finally:
        env.close()


def run_stream(ctx: ActiveContext, chunk: int = 64) -> StreamResult:
    """Stream AL over `stream_frames` live frames with `stream_budget` labels; ctx is the
    stage's ActiveContext (encoder, feature scaling, test set, seed set from the RAM oracle)."""
    a = ctx.cfg.active
    names = ctx.label_names
    table = {n: int(i) for n, i in ctx.ram_table.items()}
    seed = int(np.random.SeedSequence([ctx.cfg.seed, 11]).generate_state(1)[0])
    seed_rows = ctx.seed_rows()
    seed_x = ctx.pool_x[seed_rows]
    seed_y = ctx.oracle(tuple(ctx.pool_ids[seed_rows]))
    encoder = ctx.encoder.module()
    rate = min(1.0, a.stream_budget / a.stream_frames)
    score_fn = acq.SCORERS[a.stream_strategy]

    def train(xs: list[np.ndarray], ys: list[np.ndarray], salt: int) -> torch.nn.Module:
        x = np.concatenate([seed_x, *xs]) if xs else seed_x
        y = np.concatenate([seed_y, *ys]) if ys else seed_y
        return fit_head(x, y, ctx.head, ctx.train, seed=seed + salt)

    def test_f1(head: torch.nn.Module) -> float:
        return ctx.target_f1(f1_per_label(head, ctx.test_x, ctx.test_y, names))

    head = train([], [], 0)
    theta: float | None = None
    calib: list[float] = []
    got_x: list[np.ndarray] = []
    got_y: list[np.ndarray] = []
    seen_x: list[np.ndarray] = []
    seen_ram: list[np.ndarray] = []
    curve = [(0, test_f1(head))]
    frames = _live_frames(ctx, a.stream_frames, seed)
    while True:
        batch = [f for _, f in zip(range(chunk), frames, strict=False)]
        if not batch:
            break
        obs = np.stack([o for o, _ in batch])
        x = ctx.scale(encode(encoder, obs, batch_size=chunk))  # one pass, as chunks arrive
        rams = np.stack([r for _, r in batch])
        seen_x.append(x)
        seen_ram.append(rams)
        for i in range(len(batch)):
            score = float(score_fn(head.probs(torch.from_numpy(x[i:i + 1])).numpy())[0])
            if theta is None:  # calibration window: watch, do not ask
                calib.append(score)
                if len(calib) >= a.stream_calibration:
                    theta = calibrate_threshold(np.array(calib), rate)
                continue
            asked = should_query(score, theta, len(got_x), a.stream_budget)
            theta = update_threshold(theta, asked, rate, a.stream_threshold_step)
            if not asked:
                continue
            lab = extract_labels(rams[i:i + 1], {n: table[n] for n in names})
            got_x.append(x[i:i + 1])
            got_y.append(np.stack([lab[n].astype(np.int64) for n in names], 1))
            if len(got_x) % a.stream_retrain_every == 0:
                head = train(got_x, got_y, len(got_x))
                curve.append((len(got_x), test_f1(head)))
                ctx.log({"al/stream/f1": curve[-1][1], "al/stream/threshold": theta},
                        step=len(got_x))
    if got_x and len(got_x) % a.stream_retrain_every:
        head = train(got_x, got_y, len(got_x))
        curve.append((len(got_x), test_f1(head)))
    used = len(got_x)
    # Same number of labels, drawn uniformly from the frames the stream showed.
    all_x, all_ram = np.concatenate(seen_x), np.concatenate(seen_ram)
    pick = np.random.default_rng(seed).choice(len(all_x), used, replace=False)
    lab = extract_labels(all_ram[pick], {n: table[n] for n in names})
    rand_y = np.stack([lab[n].astype(np.int64) for n in names], 1)
    random_f1 = test_f1(train([all_x[pick]], [rand_y], -1)) if used else curve[0][1]
    result = StreamResult(len(all_x), used, a.seed_size, curve[-1][1], random_f1,
                          float(theta if theta is not None else math.nan), tuple(curve))
    ctx.log({"al/stream/labels_used": used, "al/stream/frames": result.frames,
             "al/stream/final_f1": result.f1, "al/stream/random_f1": random_f1,
             "al/stream/final_threshold": result.threshold,
             "al/stream/query_rate": used / max(1, result.frames - a.stream_calibration)})
    log.info("active: %s", result.describe())
    return result
