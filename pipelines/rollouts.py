"""One rollout worker: plays an ALE game with a seeded random policy and returns rows that
follow the data contract (frame, RAM and sound of one instant; action, reward, done; labels).

Pure apart from the emulator: runs in a Ray task on any node and returns Arrow tables, so no
node needs to see another's disk.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from agents.atari_env import ale_of, make_collect_env, rom_name
from pipelines.dataset import FRAME_SHAPE, RAM_BYTES
from pipelines.labels import extract_labels, labels_for


@dataclass(frozen=True)
class RolloutSpec:
    game: str
    task_index: int
    seed: int
    steps: int
    frameskip: int = 4
    repeat_action_probability: float = 0.25
    max_episode_steps: int | None = None


def frame_hash(frame: np.ndarray) -> str:
    return hashlib.blake2b(frame.tobytes(), digest_size=8).hexdigest()


def collect_rollout(spec: RolloutSpec) -> tuple[pa.Table, pa.Table]:
    """Play `spec.steps` steps; return (index table, full table).

    Row t holds observation o_t (frame, RAM, and the sound emitted while reaching it), the
    action a_t chosen at o_t, and the reward and episode end that a_t produced. The small index
    table (episode id, frame hash) lets the driver plan splits before fetching the frames.
    """
    env = make_collect_env(
        spec.game,
        frameskip=spec.frameskip,
        repeat_action_probability=spec.repeat_action_probability,
        max_episode_steps=spec.max_episode_steps,
    )
    ale = ale_of(env)
    env.action_space.seed(spec.seed)
    obs, _ = env.reset(seed=spec.seed)

    n = spec.steps
    frames = np.empty((n, *FRAME_SHAPE), np.uint8)
    rams = np.empty((n, RAM_BYTES), np.uint8)
    sounds: list[bytes] = []
    episode_ids: list[str] = []
    steps = np.empty(n, np.int32)
    actions = np.empty(n, np.int16)
    rewards = np.empty(n, np.float32)
    dones = np.empty(n, bool)
    truncs = np.empty(n, bool)
    episode, t = 0, 0
    for i in range(n):
        frames[i] = obs["image"]
        rams[i] = ale.getRAM()  # same instant as obs: read before stepping
        sounds.append(obs["sound"].tobytes())
        episode_ids.append(f"t{spec.task_index:03d}-e{episode:04d}")
        steps[i] = t
        action = env.action_space.sample()
        obs, reward, terminated, truncated, _ = env.step(action)
        actions[i], rewards[i] = action, reward
        dones[i], truncs[i] = terminated or truncated, truncated
        t += 1
        if terminated or truncated:
            episode, t = episode + 1, 0
            obs, _ = env.reset()
    env.close()

    hashes = [frame_hash(f) for f in frames]
    labels = extract_labels(rams, labels_for(rom_name(spec.game)))
    index = pa.table({"episode_id": episode_ids, "frame_hash": hashes})
    full = pa.table(
        {
            "episode_id": episode_ids,
            "step": steps,
            "task": np.full(n, spec.task_index, np.int16),
            "frame": pa.array([f.tobytes() for f in frames], pa.binary()),
            "ram": pa.array([r.tobytes() for r in rams], pa.binary()),
            "sound": pa.array(sounds, pa.binary()),
            "action": actions,
            "reward": rewards,
            "done": dones,
            "truncated": truncs,
            "frame_hash": hashes,
            **{f"label_{k}": v for k, v in labels.items()},
        }
    )
    return index, full


def decode_frames(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Binary frame column -> (N, 210, 160) uint8."""
    buf = b"".join(column.to_pylist())
    return np.frombuffer(buf, np.uint8).reshape(-1, *FRAME_SHAPE)


def decode_bytes(column: pa.ChunkedArray | pa.Array, width: int) -> np.ndarray:
    """Binary column of fixed-width rows (RAM: 128, sound: 512) -> (N, width) uint8."""
    return np.frombuffer(b"".join(column.to_pylist()), np.uint8).reshape(-1, width)
