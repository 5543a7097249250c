"""Encoder cost on this CPU: a train step (forward + backward + Adam, batch 256 of uint8
4x84x84 stacks) and inference, for each encoder arch, side by side in one run.

    .venv/bin/python benchmarks/encoder_step.py
"""

from __future__ import annotations

import time

import torch
from torch import nn

from models.encoder import EncoderSpec, build_encoder


def measure(arch: str, feature_dim: int, steps: int = 15, batch: int = 256) -> tuple[float, float]:
    enc = build_encoder(EncoderSpec(arch, 4, 84, 84, feature_dim))
    head = nn.Linear(feature_dim, 6)
    opt = torch.optim.Adam([*enc.parameters(), *head.parameters()], 1e-4)
    x = torch.randint(0, 256, (batch, 4, 84, 84), dtype=torch.uint8)

    def step() -> None:
        loss = head(torch.relu(enc(x))).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        step()
    train = steps * batch / (time.perf_counter() - start)
    with torch.no_grad():
        start = time.perf_counter()
        for _ in range(steps):
            head(enc(x))
        infer = steps * batch / (time.perf_counter() - start)
    return train, infer


def main() -> None:
    print(f"torch threads: {torch.get_num_threads()}")
    for arch, dim in (("nature_cnn", 512), ("nature_cnn", 256), ("small_cnn", 256)):
        train, infer = measure(arch, dim)
        print(f"{arch:11} {dim:4d}: train {train:7.0f} samples/s   inference {infer:7.0f} "
              "samples/s")


if __name__ == "__main__":
    main()
