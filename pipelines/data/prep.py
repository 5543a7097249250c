"""Data prep stage: parallel ALE rollouts on Ray -> episode splits -> Parquet dataset.

N Ray tasks each play the game with their own seed and return Arrow tables; the driver plans
the episode-level split from a small index first, then fetches one task's rows at a time
(memory stays bounded by one task's output) and writes shards atomically.
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ale_py
import gymnasium
import mlflow
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import ray
from mlflow.data.dataset_source_registry import get_registered_sources, resolve_dataset_source
from mlflow.data.meta_dataset import MetaDataset

from agents.atari_env import policy_actions, rom_name, rom_sha256
from pipelines.core.charts import frame_grid
from pipelines.core.config import ArcadeConfig, config_digest
from pipelines.core.progress import progress
from pipelines.core.registry import POLICY_MODEL, RegistryError, load_registered_policy, resolve
from pipelines.core.tracking import log_metrics
from pipelines.data.dataset import (
    FORMAT_VERSION,
    MANIFEST,
    DatasetError,
    DatasetWriter,
    Manifest,
    verify,
)
from pipelines.data.labels import label_statistics, labels_for, screen_positions
from pipelines.data.rollouts import BehaviourPolicy, RolloutSpec, collect_rollout, decode_frames
from pipelines.data.splits import SPLITS, assign_episode_splits, leaked_mask

log = logging.getLogger("arcadelab")


@dataclass(frozen=True)
class DataResult:
    path: Path
    manifest: Manifest
    env_steps_per_s: float
    samples_png: Path

    def describe(self) -> str:
        m = self.manifest
        splits = ", ".join(f"{k} {v['rows']}" for k, v in m.splits.items())
        return f"{m.rows} rows ({splits}) at {self.path}"


RANDOM_POLICY = "random"


def policy_version(cfg: ArcadeConfig) -> str | None:
    """The registry version behind `data.policy` (None for the random policy), resolved once,
    so a moving alias never reuses data another policy version played."""
    if cfg.data.policy == RANDOM_POLICY:
        return None
    try:
        return resolve(cfg.data.policy, POLICY_MODEL)[0]
    except RegistryError as exc:
        raise DatasetError(f"data.policy: {exc}") from None


def dataset_path(cfg: ArcadeConfig, version: str | None = None) -> Path:
    """Content-addressed location: same game and data config (and behaviour-policy version)
    -> same folder. `version` saves a registry lookup where it is already resolved."""
    if cfg.data.policy != RANDOM_POLICY and version is None:
        version = policy_version(cfg)
    sci = cfg.science()
    if version is not None:  # an alias and the version it names collect the same data
        sci["data"] = {**sci["data"], "policy": f"{POLICY_MODEL}/{version}"}
    digest = config_digest({"game": sci["game"], "seed": sci["seed"], "data": sci["data"]})
    name = f"{rom_name(cfg.game)}-{digest}"
    return (cfg.runtime.work_dir / "datasets" / name).resolve()


def behaviour_policy(cfg: ArcadeConfig, version: str | None) -> BehaviourPolicy | None:
    """The registered policy version `data.policy` resolved to, checked against the game and
    the policy view the RL config defines; DatasetError (before any collection) if it is
    missing or does not fit. Loaded by version: an alias that moves meanwhile cannot mix two."""
    if version is None:
        return None
    try:
        net, spec, version = load_registered_policy(version)
        tags = resolve(version, POLICY_MODEL)[1]
    except (RegistryError, OSError, ValueError) as exc:
        raise DatasetError(f"data.policy: {exc}") from None
    trained_on = tags.get("game", cfg.game)
    if trained_on != cfg.game:
        raise DatasetError(f"data.policy: {POLICY_MODEL}@{cfg.data.policy} (version {version}) "
                           f"plays {trained_on}, but game is {cfg.game}")
    expected = (cfg.rl.frame_stack, cfg.rl.screen_size, cfg.rl.screen_size)
    if spec.input_shape != expected:
        raise DatasetError(
            f"data.policy: models:/{POLICY_MODEL}@{cfg.data.policy} (version {version}) reads "
            f"observations {spec.input_shape}, but the policy view of this config is "
            f"{expected} (rl.frame_stack x rl.screen_size^2); set those to match the policy")
    # A two-action (`up_down`) policy plays the env actions its outputs stand for.
    action_set = tags.get("actions", "full")
    try:
        env_actions = policy_actions(cfg.game, action_set)
    except ValueError as exc:
        raise DatasetError(f"data.policy: {exc}") from None
    if net.policy.out_features != len(env_actions):
        raise DatasetError(f"data.policy: {POLICY_MODEL}@{cfg.data.policy} (version {version}) "
                           f"chooses among {net.policy.out_features} actions, but {cfg.game} "
                           f"has {len(env_actions)} ({action_set} action set)")
    weights = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    return BehaviourPolicy(spec, len(env_actions), weights,
                           f"{POLICY_MODEL}@{cfg.data.policy} (v{version})", env_actions)


def upstream_dataset(cfg: ArcadeConfig, upstream: Mapping[str, Any]) -> Path:
    """The dataset a stage reads: the data stage's of this flow run if it ran, else the one
    this config names (reused from an earlier run)."""
    return upstream["data"].path if "data" in upstream else dataset_path(cfg)


def rollout_specs(cfg: ArcadeConfig, policy: BehaviourPolicy | None = None
                  ) -> list[RolloutSpec]:
    d = cfg.data
    # Distinct, reproducible seeds per task derived from the root seed.
    seeds = np.random.SeedSequence([cfg.seed, 1]).generate_state(d.num_tasks)
    return [
        RolloutSpec(cfg.game, i, int(seeds[i]), d.steps_per_task, d.frameskip,
                    d.repeat_action_probability, d.max_episode_steps, policy)
        for i in range(d.num_tasks)
    ]


def prepare_data(cfg: ArcadeConfig) -> DataResult:
    """Collect, split, write and log one dataset; logs to the active MLflow run.

    Dataset folders are content-addressed, so an intact dataset made from the same game, seed
    and data config is reused (checksums verified) unless `data.reuse` is off.
    """
    version = policy_version(cfg)
    path = dataset_path(cfg, version)
    if cfg.data.reuse and (path / MANIFEST).is_file():
        try:
            manifest = verify(path)
        except DatasetError as exc:
            log.warning("data: existing dataset unusable, collecting again (%s)", exc)
        else:
            stale = _stale_labels(manifest)
            if stale:
                log.warning("data: %s, collecting again", stale)
            else:
                log.info("data: reusing verified dataset %s (%d rows)", path, manifest.rows)
                result = DataResult(path, manifest, math.nan, _samples_png(path))
                log_dataset(result, pd.DataFrame(manifest.label_stats), reused=True)
                return result
    return _collect(cfg, path, behaviour_policy(cfg, version))


def _stale_labels(manifest: Manifest) -> str | None:
    """Why a dataset's labels are not the label table's today, if they are not: the folder
    name keys on the data config, not on the table (it gained AtariARI's flattened lists)."""
    now = labels_for(manifest.rom)
    if manifest.labels == now:
        return None
    return (f"{manifest.name} was collected with another label table ({len(manifest.labels)} "
            f"labels; the table now has {len(now)})")


def _samples_png(path: Path) -> Path:
    return path.parent / f"{path.name}-samples.png"


def _collect(cfg: ArcadeConfig, path: Path, policy: BehaviourPolicy | None) -> DataResult:
    d = cfg.data
    specs = rollout_specs(cfg, policy)
    if policy is not None:
        log.info("data: collecting with %s (sampled actions)", policy.source)
    remote = ray.remote(num_cpus=1, num_returns=2, max_retries=2)(collect_rollout)
    start = time.perf_counter()
    pending = {}
    for spec in specs:
        index_ref, rows_ref = remote.remote(spec)
        pending[index_ref] = (spec.task_index, rows_ref)

    # Wait on the small index tables, reporting progress as tasks finish.
    indexes: dict[int, pa.Table] = {}
    rows_refs: dict[int, ray.ObjectRef] = {}
    waiting = list(pending)
    with progress(len(specs), "data", "rollout task") as bar:
        while waiting:
            done, waiting = ray.wait(waiting, num_returns=1)
            task, rows_ref = pending[done[0]]
            indexes[task], rows_refs[task] = ray.get(done[0]), rows_ref
            bar.advance(1, env_steps=f"{len(indexes) * d.steps_per_task}/"
                                     f"{len(specs) * d.steps_per_task}")
    elapsed = time.perf_counter() - start
    steps_per_s = d.num_tasks * d.steps_per_task / elapsed

    index = pa.concat_tables(indexes[t] for t in sorted(indexes))
    split_of = assign_episode_splits(index.column("episode_id").to_pylist(), d.split, cfg.seed)
    splits = [split_of[e] for e in index.column("episode_id").to_pylist()]
    leaked = leaked_mask(splits, index.column("frame_hash").to_pylist())

    rom = rom_name(cfg.game)
    table = labels_for(rom)
    label_values: dict[str, list[np.ndarray]] = {k: [] for k in table}
    sample_rows: list[pa.Table] = []
    episodes: dict[str, set[str]] = {s: set() for s in SPLITS}
    offset = 0
    with DatasetWriter(path) as writer:
        buffers: dict[str, list[pa.Table]] = {s: [] for s in SPLITS}
        for task in sorted(rows_refs):
            rows: pa.Table = ray.get(rows_refs[task])
            n = rows.num_rows
            task_splits = pa.array(splits[offset:offset + n])
            keep = pa.array(~leaked[offset:offset + n])
            offset += n
            rows = rows.append_column("split", task_splits).filter(keep)
            for s in SPLITS:
                part = rows.filter(pc.equal(rows.column("split"), s))
                if part.num_rows:
                    buffers[s].append(part)
                    episodes[s].update(part.column("episode_id").to_pylist())
                    _flush(writer, buffers, s, d.rows_per_shard, final=False)
            for k in table:
                label_values[k].append(rows.column(f"label_{k}").to_numpy())
            sample_rows.append(rows.slice(0, 0) if not rows.num_rows else
                               rows.take(np.linspace(0, rows.num_rows - 1,
                                                     max(1, d.sample_grid // len(specs) + 1),
                                                     dtype=int)))
            del rows
        for s in SPLITS:
            _flush(writer, buffers, s, d.rows_per_shard, final=True)

        stats = label_statistics({k: np.concatenate(v) for k, v in label_values.items()},
                                 table, d.min_label_entropy_bits)
        split_rows = {s: sum(x.rows for x in writer.shards if x.split == s) for s in SPLITS}
        manifest = Manifest(
            format_version=FORMAT_VERSION,
            name=path.name,
            game=cfg.game,
            rom=rom,
            rom_sha256=rom_sha256(cfg.game),
            versions={"ale_py": ale_py.__version__, "gymnasium": gymnasium.__version__},
            config={"game": cfg.game, "seed": cfg.seed, "data": cfg.data.model_dump(mode="json")},
            shards=tuple(writer.shards),
            splits={s: {"rows": split_rows[s], "episodes": len(episodes[s])} for s in SPLITS},
            labels=table,
            label_stats=stats.to_dict(orient="records"),
            low_entropy_labels=tuple(stats.loc[stats.low_entropy, "label"]),
            dropped_leaked_frames=int(leaked.sum()),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            extra={"behaviour_policy": policy.source if policy else RANDOM_POLICY},
        )
        writer.commit(manifest)
    log.info("data: wrote %d rows in %d shards to %s", manifest.rows, len(manifest.shards), path)
    if manifest.low_entropy_labels:
        log.warning("data: low-entropy labels (reported, not for probes): %s",
                    ", ".join(manifest.low_entropy_labels))
    result = DataResult(path, manifest, steps_per_s, _samples_png(path))
    _sample_grid(pa.concat_tables(sample_rows).slice(0, d.sample_grid), rom, table,
                 result.samples_png)
    log_dataset(result, stats)
    return result


def _flush(writer: DatasetWriter, buffers: dict[str, list[pa.Table]], split: str,
           rows_per_shard: int, final: bool) -> None:
    """Write full shards out of a split's buffer (and the remainder when `final`)."""
    if not buffers[split]:
        return
    merged = pa.concat_tables(buffers[split])
    start = 0
    while merged.num_rows - start >= rows_per_shard or (final and start < merged.num_rows):
        writer.write_shard(merged.slice(start, rows_per_shard), split)
        start += rows_per_shard
    buffers[split] = [merged.slice(start)] if start < merged.num_rows else []


def _sample_grid(rows: pa.Table, rom: str, table: dict[str, int], out: Path) -> None:
    frames = decode_frames(rows.column("frame"))
    captions, markers = [], []
    for i in range(rows.num_rows):
        labels = {k: rows.column(f"label_{k}")[i].as_py() for k in table}
        head = f"{rows.column('episode_id')[i].as_py()} t={rows.column('step')[i].as_py()}"
        pairs = [f"{k}={v}" for k, v in labels.items()]
        captions.append([head] + [" ".join(pairs[j:j + 2]) for j in range(0, len(pairs), 2)])
        markers.append(screen_positions(rom, labels))
    frame_grid(frames, captions, markers).save(out)

# MLflow's source for local files (get_registered_sources lists it twice: see log_dataset_input).
LOCAL_SOURCE = next(s for s in get_registered_sources() if s._get_source_type() == "local")


def log_dataset_input(path: Path, manifest: Manifest, context: str) -> None:
    """Record a dataset on the active run: an MLflow input (name, digest of the shard hashes,
    source path) plus tags, so lineage shows in the UI and through the client."""
    mlflow.set_tags({"arcadelab.dataset": manifest.name,
                     "arcadelab.dataset_digest": manifest.digest(),
                     "arcadelab.dataset_path": str(path),
                     "arcadelab.behaviour_policy": manifest.extra.get("behaviour_policy",
                                                                      RANDOM_POLICY)})
    # Asked of the local sources only: MLflow registers its local-file source twice, and
    # resolving a path against every source warns that it "can be interpreted in multiple
    # ways" (both matches are that one class).
    source = resolve_dataset_source(str(path), candidate_sources=[LOCAL_SOURCE])
    mlflow.log_input(MetaDataset(source=source, name=manifest.name, digest=manifest.digest()),
                     context=context)


def log_dataset(result: DataResult, stats: pd.DataFrame, reused: bool = False) -> None:
    """Metrics under data/…, the dataset as an MLflow input, manifest, label table, grid."""
    m = result.manifest
    metrics = {
        "data/reused": float(reused),
        "data/rows": m.rows,
        "data/shards": len(m.shards),
        "data/episodes": sum(v["episodes"] for v in m.splits.values()),
        "data/dropped_leaked_frames": m.dropped_leaked_frames,
        "data/env_steps_per_s": result.env_steps_per_s,
        "data/low_entropy_labels": len(m.low_entropy_labels),
        "data/bytes": sum((result.path / s.name).stat().st_size for s in m.shards),
    }
    for s, v in m.splits.items():
        metrics[f"data/rows_{s}"] = v["rows"]
        metrics[f"data/episodes_{s}"] = v["episodes"]
    for row in stats.itertuples():
        metrics[f"data/label_entropy_bits/{row.label}"] = row.entropy_bits
    log_metrics(metrics)
    log_dataset_input(result.path, m, context="collected")
    with tempfile.TemporaryDirectory() as tmp:
        stats.to_csv(Path(tmp) / "label_stats.csv", index=False)
        mlflow.log_artifact(str(Path(tmp) / "label_stats.csv"), "data")
    mlflow.log_artifact(str(result.path / "manifest.json"), "data")
    if result.samples_png.is_file():
        mlflow.log_artifact(str(result.samples_png), "data")

