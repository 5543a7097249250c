"""Bimodal audio-visual autoencoder (Ngiam et al. 2011) on Pong: the frame at 42x42 and the
sound's log spectrum share one code; reconstruction error of each modality from both, from
itself and from the other one alone (cross-modal), against predicting the train mean."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from models.audio import log_spectrum
from models.bimodal_autoencoder import BimodalAutoencoder, modality_dropout
from pipelines.core.config import MultimodalConfig
from pipelines.core.torch_fit import fit, predict
from pipelines.data.game_events import sound_events
from pipelines.data.modalities import ModalSplit
from pipelines.data.splits import SPLITS

SIDE = 42  # the 84x84 frame averaged over 2x2 blocks
CONDITIONS = {"both": (True, True), "video": (True, False), "audio": (False, True)}


def video_pixels(frames: np.ndarray) -> np.ndarray:
    """(N, 84, 84) uint8 -> (N, 42 * 42) float32 in [0, 1] (2x2 block means)."""
    n = len(frames)
    return (frames.reshape(n, SIDE, 2, SIDE, 2).mean(axis=(2, 4)) / 255.0).reshape(
        n, -1).astype(np.float32)


def ae_arrays(splits: Mapping[str, ModalSplit]) -> dict[str, dict[str, np.ndarray]]:
    """Per split: video pixels, audio spectrum scaled to [0, 1] by the train maximum, and
    whether the step made a sound."""
    spec = {s: log_spectrum(torch.from_numpy(splits[s].sound)).numpy() for s in SPLITS}
    scale = max(float(spec["train"].max()), 1e-6)
    return {s: {"video": video_pixels(splits[s].frames), "audio": spec[s] / scale,
                "sound": sound_events(splits[s].sound)} for s in SPLITS}


def _reconstruct(model: BimodalAutoencoder, arrays: Mapping[str, np.ndarray], cond: str
                 ) -> tuple[np.ndarray, np.ndarray]:
    v_on, a_on = CONDITIONS[cond]

    def call(m: BimodalAutoencoder, b: dict[str, torch.Tensor]) -> torch.Tensor:
        n = len(b["video"])
        v_hat, a_hat = m(b["video"], b["audio"], torch.full((n,), v_on), torch.full((n,), a_on))
        return torch.cat([v_hat, a_hat], dim=1)

    out = predict(model, {"video": arrays["video"], "audio": arrays["audio"]}, call=call)
    return out[:, :model.video_dim], out[:, model.video_dim:]


def train_bimodal_ae(data: dict[str, dict[str, np.ndarray]], mc: MultimodalConfig, seed: int
                     ) -> dict[str, Any]:
    """Ray task body -> metrics (MSE per modality and input condition, on test steps with a
    sound and on all test steps) and a picture."""
    torch.manual_seed(seed)
    tr = data["train"]
    model = BimodalAutoencoder(tr["video"].shape[1], tr["audio"].shape[1],
                               hidden=4 * mc.hidden, latent=mc.hidden)

    def loss(m: BimodalAutoencoder, b: dict[str, torch.Tensor]) -> torch.Tensor:
        v_on, a_on = modality_dropout(len(b["video"]))
        return m.loss(b["video"], b["audio"], v_on, a_on)

    def score(m: BimodalAutoencoder) -> float:
        v_hat, a_hat = _reconstruct(m, data["val"], "both")
        return -float(np.mean((v_hat - data["val"]["video"]) ** 2)
                      + np.mean((a_hat - data["val"]["audio"]) ** 2))

    arrays = {"video": tr["video"], "audio": tr["audio"]}
    res = fit(model, loss, arrays, epochs=mc.decoder_epochs, batch_size=mc.batch_size,
              lr=mc.lr, seed=seed, score=score)
    test = data["test"]
    mean_v, mean_a = tr["video"].mean(0), tr["audio"].mean(0)
    metrics: dict[str, float] = {"train_time_s": res.train_time_s}
    recon = {}
    for cond in CONDITIONS:
        v_hat, a_hat = _reconstruct(res.model, test, cond)
        recon[cond] = v_hat
        for rows, tag in ((test["sound"], "sound_steps"), (slice(None), "all_steps")):
            metrics[f"{tag}/video_from_{cond}_mse"] = float(np.mean(
                (v_hat[rows] - test["video"][rows]) ** 2))
            metrics[f"{tag}/audio_from_{cond}_mse"] = float(np.mean(
                (a_hat[rows] - test["audio"][rows]) ** 2))
    for rows, tag in ((test["sound"], "sound_steps"), (slice(None), "all_steps")):
        metrics[f"{tag}/video_mean_baseline_mse"] = float(np.mean(
            (test["video"][rows] - mean_v) ** 2))
        metrics[f"{tag}/audio_mean_baseline_mse"] = float(np.mean(
            (test["audio"][rows] - mean_a) ** 2))
    metrics["test_sound_steps"] = float(test["sound"].sum())
    return {"metrics": metrics, "grid": _grid(test, recon)}


def _grid(test: Mapping[str, np.ndarray], recon: Mapping[str, np.ndarray], n: int = 6
          ) -> np.ndarray:
    """Rows of [frame | from both | from video only | from audio only] for test steps with a
    sound, uint8, upscaled x3."""
    rows_idx = np.flatnonzero(test["sound"])
    if len(rows_idx) == 0:
        rows_idx = np.arange(len(test["video"]))
    pick = rows_idx[np.linspace(0, len(rows_idx) - 1, min(n, len(rows_idx))).astype(int)]
    gap = np.ones((SIDE, 2), np.float32)
    rows = []
    for i in pick:
        tiles = [test["video"][i]] + [recon[c][i] for c in CONDITIONS]
        parts = []
        for t in tiles:
            parts += [t.reshape(SIDE, SIDE), gap]
        rows += [np.concatenate(parts[:-1], axis=1), np.ones((2, len(tiles) * (SIDE + 2) - 2))]
    grid = (np.clip(np.concatenate(rows[:-1]), 0, 1) * 255).round().astype(np.uint8)
    return np.kron(grid, np.ones((3, 3), np.uint8))
