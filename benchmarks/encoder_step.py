"""Encoder cost on this CPU: a train step (forward + backward + Adam, batch 256 of uint8
4x84x84 stacks) and inference (batch 32, as an env runner calls it, and 4096, as PPO's value
bootstrap does), for each encoder arch and both memory layouts (NCHW, and the NHWC the
encoder switches to on CPU when gradients flow), side by side in one run.

    .venv/bin/python benchmarks/encoder_step.py
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch import nn

from models.encoder import ConvEncoder, EncoderSpec, build_encoder


def rate(fn: Callable[[], object], samples: int, steps: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return steps * samples / (time.perf_counter() - start)


def measure(arch: str, feature_dim: int, steps: int = 15, batch: int = 256) -> dict[str, float]:
    enc = build_encoder(EncoderSpec(arch, 4, 84, 84, feature_dim))
    head = nn.Linear(feature_dim, 6)
    opt = torch.optim.Adam([*enc.parameters(), *head.parameters()], 1e-4)
    x = torch.randint(0, 256, (batch, 4, 84, 84), dtype=torch.uint8)
    small, big = x[:32].clone(), x.repeat(16, 1, 1, 1)

    def step() -> None:
        loss = head(torch.relu(enc(x))).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    train = rate(step, batch, steps)
    with torch.no_grad():
        return {"train": train, "infer32": rate(lambda: enc(small), 32, steps * 8),
                "infer4096": rate(lambda: enc(big), 4096, 2)}


def main() -> None:
    print(f"torch threads: {torch.get_num_threads()}   (samples/s)")
    print(f"{'arch':11} {'dim':>4} {'layout':7}{'train b256':>11}{'infer b32':>10}"
          f"{'infer b4096':>12}")
    for arch, dim in (("nature_cnn", 512), ("nature_cnn", 256), ("small_cnn", 256)):
        for nhwc in (False, True):
            ConvEncoder.nhwc_on_cpu = nhwc
            r = measure(arch, dim)
            print(f"{arch:11} {dim:4d} {'auto' if nhwc else 'NCHW':7}{r['train']:11.0f}"
                  f"{r['infer32']:10.0f}{r['infer4096']:12.0f}")


if __name__ == "__main__":
    main()
