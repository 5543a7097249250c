"""What the multimodal parts share: per split, the frozen frame features (standardised on
train), the sound, the RAM, the labels, and the event target built from the game itself."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.data.game_events import event_within, sound_events
from pipelines.data.modalities import ModalSplit
from pipelines.data.splits import SPLITS
from pipelines.features.frozen import FrozenEncoder, standardize

Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class MMInputs:
    splits: dict[str, ModalSplit]
    feats: dict[str, np.ndarray]  # (N, D) float32 frozen features, standardised on train
    labels: tuple[str, ...]
    encoder_source: str


def prepare_inputs(encoder: FrozenEncoder, splits: dict[str, ModalSplit]) -> MMInputs:
    raw = [encoder.features(splits[s]) for s in SPLITS]
    feats = dict(zip(SPLITS, standardize(*raw), strict=True))
    return MMInputs(splits, feats, splits["train"].label_names, encoder.source)


def event_arrays(inp: MMInputs, horizon: int) -> dict[str, Arrays]:
    """Per split: frame features, sound, RAM and y = 'a sound (hit, bounce, point) or a reward
    happens within the next `horizon` steps', on the rows whose horizon is inside the episode."""
    out = {}
    for s in SPLITS:
        sp = inp.splits[s]
        assert sp.sound is not None
        events = sound_events(sp.sound) | (sp.reward != 0)
        y, valid = event_within(events, sp.episode, horizon)
        out[s] = {"frame": inp.feats[s][valid], "audio": sp.sound[valid],
                  "ram": sp.ram[valid], "y": y[valid].astype(np.int64)}
    return out
