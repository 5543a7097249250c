"""One rollout worker: plays an ALE game with a seeded random policy, or with a registered
policy network (`data.policy`), and returns rows that follow the data contract (frame, RAM and
sound of one instant; action, reward, done; labels).

Pure apart from the emulator: runs in a Ray task on any node and returns Arrow tables, so no
node needs to see another's disk.
"""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np
import pyarrow as pa
import torch

from agents.atari_env import ale_of, make_collect_env, rom_name
from models.actor_critic import ActorCritic
from models.encoder import EncoderSpec, build_encoder
from pipelines.data.dataset import FRAME_SHAPE, RAM_BYTES, SOUND_SAMPLES
from pipelines.data.labels import extract_labels, labels_for


@dataclass(frozen=True)
class BehaviourPolicy:
    """A policy network to collect with: weights and shapes travel to the Ray task (no shared
    disk, nothing unpickled but tensors)."""

    spec: EncoderSpec
    num_actions: int
    weights: dict[str, torch.Tensor] = field(repr=False)
    source: str  # e.g. "arcadelab-policy@current (v3)"
    # The env action each output stands for (None: output i is env action i); a two-action
    # (`up_down`) Pong policy: (2, 3), RIGHT and LEFT.
    env_actions: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.env_actions is not None and len(self.env_actions) != self.num_actions:
            raise ValueError(f"{self.source}: {self.num_actions} actions but env actions "
                             f"{self.env_actions}")

    @property
    def action_map(self) -> tuple[int, ...]:
        return tuple(range(self.num_actions)) if self.env_actions is None else self.env_actions

    def build(self) -> ActorCritic:
        net = ActorCritic(build_encoder(self.spec), self.spec.feature_dim, self.num_actions)
        net.load_state_dict(self.weights)
        return net.eval()


@dataclass(frozen=True)
class RolloutSpec:
    game: str
    task_index: int
    seed: int
    steps: int
    frameskip: int = 4
    repeat_action_probability: float = 0.25
    max_episode_steps: int | None = None
    policy: BehaviourPolicy | None = None  # None: uniform random actions


class PolicyActor:
    """Samples actions from a policy network's softmax over the policy's own view of the
    stored frames: each frame resized to HxW (INTER_AREA, as the RL env) and the last C
    stacked, the first frame repeated at an episode start. Sampling, not argmax: the data
    should cover what the policy does, with its own randomness (seeded). Returns env actions
    (the policy's `action_map`), which is what the dataset records."""

    def __init__(self, policy: BehaviourPolicy, seed: int):
        torch.set_num_threads(1)  # one env per Ray task (num_cpus=1)
        self.net = policy.build()
        self.action_map = policy.action_map
        c, h, w = policy.spec.input_shape
        self.size = (w, h)
        self.stack: deque[np.ndarray] = deque(maxlen=c)
        self.gen = torch.Generator().manual_seed(seed)

    def reset(self, frame: np.ndarray) -> None:
        small = cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA)
        self.stack.extend([small] * self.stack.maxlen)

    def act(self, frame: np.ndarray) -> int:
        self.stack.append(cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA))
        obs = torch.from_numpy(np.stack(self.stack)[None])
        with torch.no_grad():
            probs = torch.softmax(self.net.logits(self.net.features(obs)), -1)
        return self.action_map[int(torch.multinomial(probs[0], 1, generator=self.gen).item())]


def frame_hash(frame: np.ndarray) -> str:
    """64-bit content id of a frame (sha256 has CPU support: ~2x faster than blake2b here)."""
    return hashlib.sha256(memoryview(np.ascontiguousarray(frame))).hexdigest()[:16]


def fixed_width(rows: np.ndarray) -> pa.FixedSizeBinaryArray:
    """(N, ...) uint8 -> Arrow fixed-size binary, one value per row, without copying."""
    rows = np.ascontiguousarray(rows, np.uint8)
    width = int(np.prod(rows.shape[1:]))
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), len(rows),
                                                [None, pa.py_buffer(rows)])


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
    actor = PolicyActor(spec.policy, spec.seed) if spec.policy is not None else None
    if actor is not None:
        if max(spec.policy.action_map) >= env.action_space.n or (
                spec.policy.env_actions is None and spec.policy.num_actions != env.action_space.n):
            raise ValueError(f"{spec.policy.source} plays env actions {spec.policy.action_map} "
                             f"but {spec.game} has {env.action_space.n}")
        actor.reset(obs["image"])

    n = spec.steps
    frames = np.empty((n, *FRAME_SHAPE), np.uint8)
    rams = np.empty((n, RAM_BYTES), np.uint8)
    sounds = np.empty((n, SOUND_SAMPLES), np.uint8)
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
        sounds[i] = obs["sound"]
        episode_ids.append(f"t{spec.task_index:03d}-e{episode:04d}")
        steps[i] = t
        action = env.action_space.sample() if actor is None else actor.act(obs["image"])
        obs, reward, terminated, truncated, _ = env.step(action)
        actions[i], rewards[i] = action, reward
        dones[i], truncs[i] = terminated or truncated, truncated
        t += 1
        if terminated or truncated:
            episode, t = episode + 1, 0
            obs, _ = env.reset()
            if actor is not None:
                actor.reset(obs["image"])
    env.close()

    hashes = [frame_hash(f) for f in frames]
    labels = extract_labels(rams, labels_for(rom_name(spec.game)))
    index = pa.table({"episode_id": episode_ids, "frame_hash": hashes})
    full = pa.table(
        {
            "episode_id": episode_ids,
            "step": steps,
            "task": np.full(n, spec.task_index, np.int16),
            "frame": fixed_width(frames),
            "ram": fixed_width(rams),
            "sound": fixed_width(sounds),
            "action": actions,
            "reward": rewards,
            "done": dones,
            "truncated": truncs,
            "frame_hash": hashes,
            **{f"label_{k}": v for k, v in labels.items()},
        }
    )
    return index, full


def decode_bytes(column: pa.ChunkedArray | pa.Array, width: int) -> np.ndarray:
    """Fixed-size binary column (RAM: 128, sound: 512, frame: 33600) -> (N, width) uint8."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not pa.types.is_fixed_size_binary(arr.type) or arr.type.byte_width != width:
        raise ValueError(f"expected fixed_size_binary({width}), got {arr.type}")
    out = np.frombuffer(arr.buffers()[1], np.uint8, count=len(arr) * width,
                        offset=arr.offset * width)
    return out.reshape(len(arr), width)


def decode_frames(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Frame column -> (N, 210, 160) uint8."""
    return decode_bytes(column, FRAME_SHAPE[0] * FRAME_SHAPE[1]).reshape(-1, *FRAME_SHAPE)
