"""Coordinated representations: the frame-RAM CLIP of the pretraining stage (its classes,
loss and recall@k), here over frozen frame features, with and without the sound as a third
tower; cross-modal retrieval recall@k on the test split."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from models.audio import AudioEncoder
from models.clip import FrameRamCLIP, RamEncoder
from models.clip_loss import recall_at_k
from models.coordinated import TriModalCLIP
from models.fusion import mlp
from pipelines.core.config import MultimodalConfig
from pipelines.core.torch_fit import fit, predict
from pipelines.data.game_events import sound_events
from pipelines.data.splits import SPLITS
from pipelines.multimodal.inputs import MMInputs


@dataclass(frozen=True)
class ClipSettings:
    """What `train_clip` needs; the multimodal and the few-shot stage fill it from their own
    sections (few-shot: epochs = fewshot.clip_epochs)."""

    hidden: int  # width of the towers and of the shared embedding
    epochs: int
    batch_size: int
    lr: float
    seed: int


def retrieval_arrays(inp: MMInputs) -> dict[str, dict[str, np.ndarray]]:
    return {s: {"frame": inp.feats[s], "ram": inp.splits[s].ram, "sound": inp.splits[s].sound}
            for s in SPLITS}


def build_clip(frame_dim: int, hidden: int, audio: bool) -> FrameRamCLIP | TriModalCLIP:
    clip = FrameRamCLIP(mlp(frame_dim, hidden, hidden), hidden,
                        RamEncoder(feature_dim=hidden, hidden=2 * hidden), hidden,
                        embed_dim=hidden)
    if not audio:
        return clip
    return TriModalCLIP(clip, AudioEncoder(feature_dim=hidden, hidden=hidden), hidden, hidden)


def embed(model: FrameRamCLIP | TriModalCLIP, arrays: Mapping[str, np.ndarray]
          ) -> dict[str, torch.Tensor]:
    out = {"frame": predict(model, {"x": arrays["frame"]},
                            call=lambda m, b: m.embed_frames(b["x"])),
           "ram": predict(model, {"x": arrays["ram"]}, call=lambda m, b: m.embed_ram(b["x"]))}
    if isinstance(model, TriModalCLIP):
        out["audio"] = predict(model, {"x": arrays["sound"]},
                               call=lambda m, b: m.embed_audio(b["x"]))
    return {k: torch.from_numpy(v) for k, v in out.items()}


def train_clip(data: dict[str, dict[str, np.ndarray]], audio: bool, settings: ClipSettings
               ) -> tuple[FrameRamCLIP | TriModalCLIP, float]:
    """Train a two- or three-tower CLIP; keeps the epoch with the best val frame->RAM R@1."""
    torch.manual_seed(settings.seed)
    model = build_clip(data["train"]["frame"].shape[1], settings.hidden, audio)
    cols = ("frame", "ram", "sound") if audio else ("frame", "ram")

    def loss(m: FrameRamCLIP | TriModalCLIP, b: dict[str, torch.Tensor]) -> torch.Tensor:
        return m.loss(b["frame"], b["ram"], b["sound"]) if audio else m.loss(b["frame"],
                                                                                 b["ram"])

    def score(m: FrameRamCLIP | TriModalCLIP) -> float:
        e = embed(m, data["val"])
        return recall_at_k(e["frame"], e["ram"], (1,))[1]

    res = fit(model, loss, {k: data["train"][k] for k in cols},
              epochs=settings.epochs, batch_size=settings.batch_size, lr=settings.lr,
              seed=settings.seed, score=score, min_batch=2)
    return res.model, res.train_time_s


def train_retrieval(data: dict[str, dict[str, np.ndarray]], audio: bool, mc: MultimodalConfig,
                    seed: int) -> dict[str, Any]:
    """Ray task body -> recall@1/@5 both ways (and audio->frame/RAM on steps with a sound)."""
    settings = ClipSettings(hidden=mc.hidden, epochs=mc.epochs, batch_size=mc.batch_size,
                            lr=mc.lr, seed=seed)
    model, seconds = train_clip(data, audio, settings)
    e = embed(model, data["test"])
    m: dict[str, float] = {"train_time_s": seconds, "test_pairs": float(len(e["frame"]))}
    for (a, b) in (("frame", "ram"), ("ram", "frame")):
        m |= {f"{a}_to_{b}_recall_at_{k}": v for k, v in recall_at_k(e[a], e[b], (1, 5)).items()}
    if audio:
        on = torch.from_numpy(sound_events(data["test"]["sound"]))
        m["test_sound_pairs"] = float(on.sum())
        if int(on.sum()) >= 2:
            for b in ("frame", "ram"):
                m |= {f"audio_to_{b}_recall_at_{k}": v
                      for k, v in recall_at_k(e["audio"][on], e[b][on], (1, 5)).items()}
                m |= {f"{b}_to_audio_recall_at_{k}": v
                      for k, v in recall_at_k(e[b][on], e["audio"][on], (1, 5)).items()}
    return {"metrics": m, "towers": 3 if audio else 2}
