"""MLflow pyfunc for a registered encoder ("models from code": nothing is unpickled).

`predict` takes frames (N, C, H, W) uint8 and returns features (N, feature_dim). Downstream
arcadelab stages skip pyfunc and load the weights directly with `pipelines.core.registry`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import torch
from mlflow.pyfunc import PythonModel, PythonModelContext

from models.checkpoint import load_encoder


class EncoderModel(PythonModel):
    def load_context(self, context: PythonModelContext) -> None:
        self.encoder, self.spec = load_encoder(Path(context.artifacts["encoder"]))
        self.encoder.eval()

    # np.ndarray is a hint MLflow accepts without deriving a schema from it (a list[...] hint
    # would make it validate and convert inputs): no "add type hints" warning, and the model
    # keeps logging without a signature, as before.
    def predict(self, context: PythonModelContext, model_input: np.ndarray,
                params: dict[str, Any] | None = None) -> np.ndarray:
        x = torch.as_tensor(np.asarray(model_input, dtype=np.uint8))
        with torch.no_grad():
            return self.encoder(x.reshape(-1, *self.spec.input_shape)).numpy()


mlflow.models.set_model(EncoderModel())
