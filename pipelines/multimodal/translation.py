"""Translation: frame -> RAM variables (regression from the frozen frame features) and RAM ->
frame (a decoder that draws the 84x84 screen from the 128 RAM bytes)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from models.translation import FrameToRam, RamToFrame, foreground_weighted_mse
from pipelines.core.charts import recon_grid
from pipelines.core.config import MultimodalConfig
from pipelines.core.torch_fit import fit, predict
from pipelines.data.splits import SPLITS
from pipelines.features.standardize import Standardizer
from pipelines.multimodal.inputs import MMInputs

FG_THRESHOLD = 0.1  # a pixel is foreground where it differs from the background this much


def frame_to_ram_arrays(inp: MMInputs) -> dict[str, dict[str, np.ndarray]]:
    return {s: {"frame": inp.feats[s], "target": inp.splits[s].labels.astype(np.float32)}
            for s in SPLITS}


def train_frame_to_ram(data: dict[str, dict[str, np.ndarray]], labels: tuple[str, ...],
                       mc: MultimodalConfig, seed: int) -> dict[str, Any]:
    """Ray task body: MSE regression of the standardised labels; test MAE (RAM units) and R^2
    per variable, against predicting the train mean."""
    torch.manual_seed(seed)
    y_tr = data["train"]["target"]
    scale = Standardizer.fit(y_tr)
    arrays = {s: {"frame": data[s]["frame"], "z": scale.transform(data[s]["target"])}
              for s in SPLITS}
    h = mc.hidden
    model = FrameToRam(torch.nn.Identity(), arrays["train"]["frame"].shape[1], len(labels), h)

    def call(m: FrameToRam, b: dict[str, torch.Tensor]) -> torch.Tensor:
        return m(b["frame"])

    def score(m: FrameToRam) -> float:
        return -float(np.mean((predict(m, arrays["val"], call=call) - arrays["val"]["z"]) ** 2))

    res = fit(model, lambda m, b: F.mse_loss(m(b["frame"]), b["z"]), arrays["train"],
              epochs=mc.epochs, batch_size=mc.batch_size, lr=mc.lr, seed=seed, score=score)
    pred = scale.inverse(predict(res.model, arrays["test"], call=call))
    truth = data["test"]["target"]
    metrics: dict[str, float] = {"train_time_s": res.train_time_s}
    for i, name in enumerate(labels):
        err = pred[:, i] - truth[:, i]
        var = float(np.var(truth[:, i]))
        metrics[f"{name}/mae"] = float(np.mean(np.abs(err)))
        metrics[f"{name}/mean_baseline_mae"] = float(np.mean(np.abs(truth[:, i] - scale.mean[i])))
        metrics[f"{name}/r2"] = 1.0 - float(np.mean(err**2)) / var if var > 0 else 0.0
    metrics["mean_r2"] = float(np.mean([metrics[f"{n}/r2"] for n in labels]))
    return {"metrics": metrics}


def ram_to_frame_arrays(inp: MMInputs) -> dict[str, dict[str, np.ndarray]]:
    return {s: {"ram": inp.splits[s].ram, "frame": inp.splits[s].frames[:, None]}
            for s in SPLITS}


def train_ram_to_frame(data: dict[str, dict[str, np.ndarray]], mc: MultimodalConfig, seed: int
                       ) -> dict[str, Any]:
    """Ray task body: RamToFrame trained with the foreground-weighted MSE against the median
    background; test MSE overall and on foreground pixels, against drawing the background."""
    torch.manual_seed(seed)
    background = torch.from_numpy(np.median(data["train"]["frame"], axis=0)
                                  .astype(np.float32) / 255.0)
    h = mc.hidden
    model = RamToFrame(84, 84, feature_dim=2 * h, hidden=4 * h)
    weight = mc.foreground_weight

    def loss(m: RamToFrame, b: dict[str, torch.Tensor]) -> torch.Tensor:
        return foreground_weighted_mse(m(b["ram"]), b["frame"].float() / 255.0, background,
                                       weight, FG_THRESHOLD)

    def call(m: RamToFrame, b: dict[str, torch.Tensor]) -> torch.Tensor:
        return m(b["ram"])

    def score(m: RamToFrame) -> float:
        return -_errors(predict(m, data["val"], call=call), data["val"]["frame"],
                        background.numpy())["fg_mse"]

    res = fit(model, loss, data["train"], epochs=mc.decoder_epochs, batch_size=mc.batch_size,
              lr=mc.lr, seed=seed, score=score)
    test = data["test"]
    pred = predict(res.model, test, call=call)
    bg = background.numpy()
    metrics = {**_errors(pred, test["frame"], bg), "train_time_s": res.train_time_s}
    base = _errors(np.broadcast_to(bg, pred.shape), test["frame"], bg)
    metrics |= {f"background_baseline_{k}": v for k, v in base.items()}
    pick = np.linspace(0, len(pred) - 1, min(8, len(pred))).astype(int)
    return {"metrics": metrics, "grid": recon_grid(test["frame"][pick], pred[pick])}


def _errors(pred: np.ndarray, frames: np.ndarray, background: np.ndarray) -> dict[str, float]:
    """Plain MSE and MSE on the foreground pixels (those that differ from the background)."""
    target = frames.astype(np.float32) / 255.0
    sq = (pred - target) ** 2
    fg = np.abs(target - background) > FG_THRESHOLD
    return {"mse": float(sq.mean()), "fg_mse": float(sq[fg].mean()) if fg.any() else 0.0}
