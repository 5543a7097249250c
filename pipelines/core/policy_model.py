"""MLflow pyfunc for a registered policy ("models from code": nothing is unpickled).

`predict` takes observations (N, C, H, W) uint8 (the preprocessed frame stacks the policy env
gives) and returns greedy actions (N,) of the game's minimal action set: a two-action
(`up_down`) policy's outputs 0 and 1 come back as the env actions they stand for (Pong: 2, 3).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import torch
from mlflow.pyfunc import PythonModel, PythonModelContext

from models.policy_checkpoint import load_policy, load_policy_actions


class PolicyModel(PythonModel):
    def load_context(self, context: PythonModelContext) -> None:
        self.net, self.spec = load_policy(Path(context.artifacts["policy"]))
        self.env_actions = np.asarray(
            load_policy_actions(Path(context.artifacts["policy"])).env_actions, np.int64)

    # np.ndarray: typed for MLflow without a derived schema (see encoder_model.py).
    def predict(self, context: PythonModelContext, model_input: np.ndarray,
                params: dict[str, Any] | None = None) -> np.ndarray:
        x = torch.as_tensor(np.asarray(model_input, dtype=np.uint8))
        with torch.no_grad():
            logits = self.net.logits(self.net.features(x.reshape(-1, *self.spec.input_shape)))
        return self.env_actions[logits.argmax(-1).numpy()]


mlflow.models.set_model(PolicyModel())
