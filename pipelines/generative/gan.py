"""The GAN stage: a DCGAN on 84x84 game frames, trained in one Ray task; every epoch a grid of
samples (fixed latent vectors) and the Frechet distance to held-out frames in the frozen
encoder's feature space ("FD-arcadelab": not Inception FID, see `pipelines/generative/frechet.py`),
logged to the stage's MLflow run as training goes."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import ray
import torch
from mlflow import MlflowClient
from mlflow.entities import Metric

from models.dcgan import Discriminator, Generator, discriminator_loss, generator_loss
from pipelines.core.charts import lines, log_png
from pipelines.core.config import ArcadeConfig, GanConfig
from pipelines.core.torch_fit import batches, submit
from pipelines.core.tracking import log_metrics
from pipelines.data.modalities import load_modalities
from pipelines.data.prep import log_dataset_input
from pipelines.features.frozen import FrozenEncoder, load_frozen_encoder
from pipelines.generative.frechet import frechet_between, frechet_distance, gaussian_stats

log = logging.getLogger("arcadelab")
FD_LABEL = "Frechet distance in the arcadelab frozen-encoder feature space (not Inception FID)"


@dataclass(frozen=True)
class GanResult:
    frechet: list[float]  # per epoch, index 0 = the untrained generator
    real_floor: float  # FD between real train and real test frames
    encoder: str

    def describe(self) -> str:
        return (f"FD-arcadelab {self.frechet[0]:.3g} (untrained) -> {self.frechet[-1]:.3g} after "
                f"{len(self.frechet) - 1} epochs; real-vs-real floor {self.real_floor:.3g} "
                f"(encoder: {self.encoder})")


@dataclass(frozen=True)
class DcganSettings:
    """What `train_dcgan` needs: the gan section's numbers, the seed, and the Frechet sample
    size actually used (gan.fd_samples capped by the train and test frames at hand)."""

    epochs: int
    batch_size: int
    z_dim: int
    width: int
    lr: float
    beta1: float
    fd_samples: int
    seed: int

    @classmethod
    def of(cls, gc: GanConfig, seed: int, fd_samples: int) -> DcganSettings:
        return cls(epochs=gc.epochs, batch_size=gc.batch_size, z_dim=gc.z_dim, width=gc.width,
                   lr=gc.lr, beta1=gc.beta1, fd_samples=fd_samples, seed=seed)


def sample_grid(frames: np.ndarray, cols: int = 8) -> np.ndarray:
    """(N, 84, 84) uint8 -> one tiled uint8 image with 2-pixel white gaps."""
    n, h, w = frames.shape
    rows = -(-n // cols)
    sheet = np.full((rows * (h + 2) - 2, cols * (w + 2) - 2), 255, np.uint8)
    for i, f in enumerate(frames):
        r, c = divmod(i, cols)
        sheet[r * (h + 2):r * (h + 2) + h, c * (w + 2):c * (w + 2) + w] = f
    return sheet


def _generate(g: Generator, z: torch.Tensor) -> np.ndarray:
    g.eval()
    with torch.no_grad():
        out = torch.cat([g(z[i:i + 256]) for i in range(0, len(z), 256)])
    g.train()
    return (out[:, 0].numpy() * 255).round().astype(np.uint8)


def train_dcgan(frames: np.ndarray, test_frames: np.ndarray, encoder_state: dict[str, Any],
                settings: DcganSettings, run_id: str | None, tracking_uri: str
                ) -> dict[str, Any]:
    """Ray task body: D and G updated in turn each batch (Radford et al. 2016's recipe)."""
    torch.manual_seed(settings.seed)
    encoder = FrozenEncoder.from_state(encoder_state)
    real_stats = gaussian_stats(encoder.embed_frames(test_frames))
    g, d = Generator(settings.z_dim, settings.width), Discriminator(settings.width)
    betas = (settings.beta1, 0.999)
    opt_g = torch.optim.Adam(g.parameters(), lr=settings.lr, betas=betas)
    opt_d = torch.optim.Adam(d.parameters(), lr=settings.lr, betas=betas)
    n_fd = settings.fd_samples
    z_fd = torch.randn(n_fd, g.z_dim, generator=torch.Generator().manual_seed(1))
    z_grid = z_fd[:32]
    client = MlflowClient(tracking_uri) if run_id else None
    gen = torch.Generator().manual_seed(settings.seed)

    def evaluate(epoch: int, extra: dict[str, float]) -> float:
        fake = _generate(g, z_fd)
        fd = frechet_distance(*real_stats, *gaussian_stats(encoder.embed_frames(fake)))
        if client is not None:
            now = int(time.time() * 1000)
            client.log_batch(run_id, metrics=[
                Metric(f"gan/{k}", float(v), now, epoch)
                for k, v in {"frechet_encoder": fd, **extra}.items() if math.isfinite(v)])
            client.log_image(run_id, sample_grid(fake[:32]), f"gan/samples/epoch_{epoch:03d}.png")
        return fd

    history = [evaluate(0, {})]
    d_losses, g_losses, seconds = [], [], 0.0
    for epoch in range(1, settings.epochs + 1):
        start, dl, gl, nb = time.perf_counter(), 0.0, 0.0, 0
        for batch in batches({"x": frames}, settings.batch_size, gen):
            real = batch["x"][:, None].float() / 255.0
            if len(real) < 2:
                continue  # BatchNorm needs two examples
            fake = g(torch.randn(len(real), g.z_dim))
            opt_d.zero_grad(set_to_none=True)
            loss_d = discriminator_loss(d(real), d(fake.detach()))
            loss_d.backward()
            opt_d.step()
            opt_g.zero_grad(set_to_none=True)
            loss_g = generator_loss(d(fake))
            loss_g.backward()
            opt_g.step()
            dl, gl, nb = dl + loss_d.item(), gl + loss_g.item(), nb + 1
        seconds += time.perf_counter() - start
        d_losses.append(dl / max(nb, 1))
        g_losses.append(gl / max(nb, 1))
        history.append(evaluate(epoch, {"d_loss": d_losses[-1], "g_loss": g_losses[-1],
                                        "frames_per_s": nb * settings.batch_size
                                        / max(time.perf_counter() - start, 1e-9)}))
    return {"frechet": history, "d_loss": d_losses, "g_loss": g_losses, "train_time_s": seconds,
            "samples": sample_grid(_generate(g, z_grid))}


def run_gan_stage(cfg: ArcadeConfig, data_path: Path) -> GanResult:
    """Runs inside the stage's MLflow run."""
    run = mlflow.active_run()
    if run is None:
        raise RuntimeError("run_gan_stage must run inside the stage's MLflow run")
    gc = cfg.gan
    encoder = load_frozen_encoder(gc.encoder, cfg.pretrain.feature_dim, cfg.seed)
    manifest, splits = load_modalities(data_path, "gan", ("frame",), labels=[])
    log_dataset_input(data_path, manifest, context="gan")
    mlflow.set_tags({"arcadelab.frame_encoder": encoder.source,
                     "arcadelab.frechet_space": FD_LABEL})
    rng = np.random.default_rng(cfg.seed)
    train = splits["train"].frames
    if gc.max_train_rows is not None and gc.max_train_rows < len(train):
        train = train[np.sort(rng.choice(len(train), gc.max_train_rows, replace=False))]
    test = splits["test"].frames
    n = min(gc.fd_samples, len(test), len(train))
    if n < 2:
        raise ValueError(f"the Frechet distance needs >= 2 frames per side, got {n}")
    test = test[np.sort(rng.choice(len(test), n, replace=False))]
    floor = frechet_between(encoder.embed_frames(train[rng.choice(len(train), n,
                                                                  replace=False)]),
                            encoder.embed_frames(test))
    settings = DcganSettings.of(gc, cfg.seed, fd_samples=n)
    log.info("gan: DCGAN on %d frames for %d epochs (one Ray task)", len(train), gc.epochs)
    out = ray.get(submit(train_dcgan, train, test, encoder.state(), settings, run.info.run_id,
                         mlflow.get_tracking_uri()))
    log_metrics({"gan/frechet_real_vs_real": floor, "gan/frechet_untrained": out["frechet"][0],
                 "gan/frechet_final": out["frechet"][-1], "gan/train_time_s": out["train_time_s"],
                 "gan/train_frames": len(train)})
    mlflow.log_image(out["samples"], "gan/samples_final.png")
    epochs = list(range(len(out["frechet"])))
    log_png(lambda p: lines({"generator": (epochs, out["frechet"], None)}, p,
                            "DCGAN: FD-arcadelab to held-out frames (not Inception FID)",
                            "epoch (0 = untrained)", "Frechet distance",
                            hline=(floor, "real train vs real test")), "gan", "frechet")
    return GanResult(out["frechet"], floor, encoder.source)
