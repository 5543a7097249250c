"""The persistent state of one active-learning loop (one strategy), saved after every round.

A re-run of an interrupted loop continues from the last finished round: the state file holds
every label bought so far (from the RAM oracle or from a person), the frames queried but not
yet labelled, and the F1 history. It is written to a temp file, fsynced and renamed, so a kill
at any instant leaves either the previous round's state or this one's, never half of one.

States live under `<work_dir>/active/<key>/<strategy>.json`; the key digests everything that
decides which frames get picked (dataset, encoder, the active config less budget and oracle,
so a finished loop can be extended and a person can take over from the RAM).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from pipelines.core.config import ArcadeConfig, config_digest

FORMAT = 1
# Fields of the active config that do not change which frames a loop picks (each strategy has
# its own state file, so the list of strategies is not part of the key either).
_NOT_IN_KEY = ("strategies", "budget", "oracle", "target_fraction", "target_labels", "stream",
               "stream_frames", "stream_budget", "stream_strategy", "stream_calibration",
               "stream_retrain_every", "stream_threshold_step")


class StateError(RuntimeError):
    """A state file that cannot be read or does not belong to this loop."""


@dataclass(frozen=True)
class RoundRecord:
    round: int
    labels: int  # labelled frames the round's classifier trained on
    f1: dict[str, float]  # test F1 per label


@dataclass(frozen=True)
class RoundState:
    key: str
    strategy: str
    label_names: tuple[str, ...]
    round: int = 0  # rounds finished
    labelled: tuple[str, ...] = ()  # frame ids, in the order they were labelled
    labels: dict[str, tuple[int, ...]] = field(default_factory=dict)  # id -> one value per label
    human: tuple[str, ...] = ()  # ids whose labels a person gave
    pending: tuple[str, ...] = ()  # queried, not labelled yet
    history: tuple[RoundRecord, ...] = ()
    done: bool = False

    @property
    def waiting(self) -> bool:
        return bool(self.pending)

    def add_labels(self, ids: Sequence[str], values: Sequence[Sequence[int]],
                   source: str = "ram") -> RoundState:
        """Label pending frames; ids must be pending and not labelled (checked by callers that
        read untrusted input; here an assertion of the invariant)."""
        ids = list(ids)
        missing = sorted(set(ids) - set(self.pending))
        if missing:
            raise StateError(f"frames not pending in the {self.strategy} loop: {missing[:5]}")
        labels = dict(self.labels)
        for fid, vals in zip(ids, values, strict=True):
            if len(vals) != len(self.label_names):
                raise StateError(f"{fid}: expected {len(self.label_names)} values, got {vals}")
            labels[fid] = tuple(int(v) for v in vals)
        done = set(ids)
        return replace(self, labelled=self.labelled + tuple(ids), labels=labels,
                       human=self.human + (tuple(ids) if source == "human" else ()),
                       pending=tuple(p for p in self.pending if p not in done))

    def to_json(self) -> str:
        data = asdict(self)
        data["format"] = FORMAT
        data["labels"] = {k: list(v) for k, v in self.labels.items()}
        return json.dumps(data, indent=1)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RoundState:
        data = dict(data)
        if data.pop("format", None) != FORMAT:
            raise StateError(f"unknown state format (this arcadelab reads {FORMAT})")
        data["label_names"] = tuple(data["label_names"])
        for k in ("labelled", "human", "pending"):
            data[k] = tuple(data[k])
        data["labels"] = {k: tuple(v) for k, v in data["labels"].items()}
        data["history"] = tuple(RoundRecord(**r) for r in data["history"])
        return cls(**data)


def loop_key(cfg: ArcadeConfig, dataset_digest: str, encoder_source: str) -> str:
    active = {k: v for k, v in cfg.active.model_dump(mode="json").items()
              if k not in _NOT_IN_KEY}
    return config_digest({"game": cfg.game, "seed": cfg.seed, "dataset": dataset_digest,
                          "encoder": encoder_source, "active": active})


def state_dir(work_dir: Path, key: str) -> Path:
    return Path(work_dir).resolve() / "active" / key


def state_path(work_dir: Path, key: str, strategy: str) -> Path:
    return state_dir(work_dir, key) / f"{strategy}.json"


def save_state(path: Path, state: RoundState) -> None:
    """Atomic: temp file in the same folder, fsync, rename over the old state."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex[:8]}-{path.name}")
    try:
        with open(tmp, "w") as f:
            f.write(state.to_json())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_state(path: Path, key: str | None = None, strategy: str | None = None
               ) -> RoundState | None:
    """The saved state, or None when there is none; StateError if unreadable or foreign."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        state = RoundState.from_dict(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError) as exc:
        raise StateError(f"{path} is not a readable active-learning state: {exc}") from None
    if key is not None and state.key != key:
        raise StateError(f"{path} belongs to loop {state.key}, not {key}")
    if strategy is not None and state.strategy != strategy:
        raise StateError(f"{path} is the {state.strategy} loop, not {strategy}")
    return state
