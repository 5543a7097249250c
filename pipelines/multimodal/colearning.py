"""Co-learning with the RAM as privileged information: a RAM teacher, trained on the event
task, distils into a frame-only student (generalised distillation); the frame-only model with
and without the teacher, side by side. At test time the student sees only the frame."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from models.colearning import distillation_loss
from pipelines.core.config import MultimodalConfig
from pipelines.core.torch_fit import predict
from pipelines.multimodal.fusion import UNIMODAL, build_model, train_classifier


def train_colearning(data: dict[str, dict[str, np.ndarray]], mc: MultimodalConfig, seed: int
                     ) -> dict[str, Any]:
    """Ray task body -> test scores of the teacher (RAM), the frame-only student without and
    with distillation."""
    frame_dim = data["train"]["frame"].shape[1]
    torch.manual_seed(seed)
    teacher, t_scores = train_classifier(build_model(("ram",), UNIMODAL, frame_dim, mc), data,
                                         mc, seed)
    soft = predict(teacher, data["train"], call=lambda m, b: m(b)).astype(np.float32)
    rows = {"teacher (RAM)": t_scores}
    torch.manual_seed(seed)
    _, rows["frame only"] = train_classifier(
        build_model(("frame",), UNIMODAL, frame_dim, mc), data, mc, seed)
    temp, alpha = mc.distill_temperature, mc.distill_alpha

    def distil(m: torch.nn.Module, b: dict[str, torch.Tensor]) -> torch.Tensor:
        return distillation_loss(m(b), b["teacher"], b["y"], temp, alpha)

    student_data = {**data, "train": {**data["train"], "teacher": soft}}
    torch.manual_seed(seed)
    _, rows["frame + RAM teacher"] = train_classifier(
        build_model(("frame",), UNIMODAL, frame_dim, mc), student_data, mc, seed, loss=distil)
    return {"rows": rows}
