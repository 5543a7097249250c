"""Audio-visual correspondence: for each sound onset, which of the frames t-w..t+w made it?
Trained contrastively over the window; accuracy against chance 1/(2w+1), and the model's
softmax over the window (the implicit alignment) drawn on test examples."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from models.alignment import AVCorrespondence
from models.audio import AudioEncoder
from models.fusion import mlp
from pipelines.core.charts import frame_grid
from pipelines.core.config import MultimodalConfig
from pipelines.core.torch_fit import fit, predict
from pipelines.data.dataset import DatasetError
from pipelines.data.game_events import alignment_windows, onsets, sound_events
from pipelines.data.splits import SPLITS
from pipelines.multimodal.inputs import MMInputs


def alignment_arrays(inp: MMInputs, w: int) -> dict[str, dict[str, np.ndarray]]:
    """Per split: the onset's sound, the candidates' frame features (M, 2w+1, D), their row
    indices, and the target (the middle)."""
    out = {}
    for s in SPLITS:
        sp = inp.splits[s]
        assert sp.sound is not None
        anchors = np.flatnonzero(onsets(sound_events(sp.sound), sp.episode))
        kept, cands = alignment_windows(anchors, sp.episode, w)
        if s != "val" and len(kept) < 2:
            raise DatasetError(f"the {s} split has {len(kept)} sound onsets with a full "
                               f"+-{w}-step window; audio-visual alignment needs at least 2: "
                               "collect longer episodes (data.max_episode_steps)")
        out[s] = {"sound": sp.sound[kept], "frames": inp.feats[s][cands], "rows": cands,
                  "target": np.full(len(kept), w, np.int64)}
    return out


def _logits(m: AVCorrespondence, b: dict[str, torch.Tensor]) -> torch.Tensor:
    return m(b["sound"], b["frames"])


def train_alignment(data: dict[str, dict[str, np.ndarray]], mc: MultimodalConfig, seed: int
                    ) -> dict[str, Any]:
    """Ray task body -> metrics and per-example window probabilities on test."""
    torch.manual_seed(seed)
    h = mc.hidden
    d = data["train"]["frames"].shape[2]
    model = AVCorrespondence(mlp(d, h, h), h, AudioEncoder(feature_dim=h, hidden=h), h,
                             embed_dim=h)
    cols = ("sound", "frames", "target")

    def acc(m: AVCorrespondence, split: str) -> float:
        arr = {k: data[split][k] for k in cols}
        if not len(arr["target"]):
            return 0.0
        return float(np.mean(predict(m, arr, call=_logits).argmax(1) == arr["target"]))

    res = fit(model, lambda m, b: m.loss(b["sound"], b["frames"], b["target"]),
              {k: data["train"][k] for k in cols}, epochs=mc.epochs, batch_size=mc.batch_size,
              lr=mc.lr, seed=seed,
              score=lambda m: acc(m, "val") if len(data["val"]["target"]) else acc(m, "train"))
    test = {k: data["test"][k] for k in cols}
    logits = predict(res.model, test, call=_logits)
    probs = torch.softmax(torch.from_numpy(logits), dim=1).numpy()
    k = logits.shape[1]
    pred = logits.argmax(1)
    metrics = {"accuracy": float(np.mean(pred == test["target"])), "chance": 1.0 / k,
               "mean_abs_offset": float(np.mean(np.abs(pred - test["target"]))),
               "true_frame_prob": float(np.mean(probs[:, k // 2])),
               "train_onsets": float(len(data["train"]["target"])),
               "test_onsets": float(len(test["target"])), "train_time_s": res.train_time_s}
    return {"metrics": metrics, "probs": probs}


def alignment_picture(frames: np.ndarray, rows: np.ndarray, probs: np.ndarray, n: int = 4
                      ) -> np.ndarray:
    """Test onsets as rows of candidate frames t-w..t+w, each captioned with the model's
    probability that it made the sound; the true one (offset 0) is marked."""
    pick = np.linspace(0, len(rows) - 1, min(n, len(rows))).astype(int)
    k = rows.shape[1]
    tiles, captions = [], []
    for i in pick:
        for j in range(k):
            tiles.append(frames[rows[i, j]])
            off = j - k // 2
            best = " <- model" if j == int(probs[i].argmax()) else ""
            captions.append([f"t{off:+d}{' (sound)' if off == 0 else ''}",
                             f"p={probs[i, j]:.2f}{best}"])
    return np.asarray(frame_grid(np.stack(tiles), captions, cols=k, scale=2))
