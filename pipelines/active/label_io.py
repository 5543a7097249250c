"""A person in the loop: export the frames a loop queried as PNGs plus a CSV to fill in, and
import the filled-in CSV back into the loop's state.

The import checks every row before it changes anything (unknown or unqueried ids, duplicates,
blank, non-integer or out-of-range values) and reports all problems at once; the state is then
saved atomically, so a bad file imports nothing and a good one imports everything. The next
run of the `active` flow trains on those labels and queries the next batch.
"""

from __future__ import annotations

import csv
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from PIL import Image

from pipelines.active.pool import frame_id, parse_frame_id
from pipelines.active.state import RoundState, load_state, loop_key, save_state, state_path
from pipelines.core.config import ArcadeConfig
from pipelines.core.registry import encoder_source
from pipelines.data.dataset import FRAME_SHAPE, DatasetError, load_manifest, read_split
from pipelines.data.labels import SCREEN_OFFSETS
from pipelines.data.prep import dataset_path

CSV_NAME = "labels.csv"
VALUE_RANGE = (0, 255)  # a RAM byte
MAX_ERRORS_SHOWN = 20


class LabelImportError(ValueError):
    """A labels file that cannot be imported; the message lists every bad row."""


@dataclass(frozen=True)
class LoopLocation:
    path: Path  # the state file
    state: RoundState
    data_path: Path


def locate_loop(cfg: ArcadeConfig, strategy: str) -> LoopLocation:
    """The saved state of `strategy`'s loop for this config; DatasetError / LookupError with
    the command that makes one when there is none."""
    data = dataset_path(cfg)
    manifest = load_manifest(data)
    key = loop_key(cfg, manifest.digest(), encoder_source(cfg.active.encoder, cfg.seed))
    path = state_path(cfg.runtime.work_dir, key, strategy)
    state = load_state(path, key, strategy)
    if state is None:
        raise LookupError(f"no {strategy} active-learning loop for this config (looked for "
                          f"{path}); start one: arcadelab run active --set "
                          f"active.oracle=human --set 'active.strategies=[{strategy}]'")
    return LoopLocation(path, state, data)


def export_queries(loc: LoopLocation, out: Path, force: bool = False) -> Path:
    """PNGs of the pending frames (full 210x160, so pixel positions read straight off the
    image) and `labels.csv` with one empty column per label; returns the CSV's path."""
    state = loc.state
    if not state.pending:
        raise LookupError(f"the {state.strategy} loop has no frames waiting for labels "
                          f"(round {state.round}, {len(state.labelled)} labelled)")
    out = Path(out)
    target = out / CSV_NAME
    if target.exists() and not force:
        raise FileExistsError(f"{target} exists (labels typed there would be lost); "
                              "choose another --out or pass --force")
    frames = _frames(loc.data_path, state.pending)
    (out / "frames").mkdir(parents=True, exist_ok=True)
    for fid in state.pending:
        Image.fromarray(frames[fid]).save(out / "frames" / f"{fid}.png")
    tmp = out / f".tmp-{uuid.uuid4().hex[:8]}-{CSV_NAME}"
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "png", *state.label_names])
        for fid in state.pending:
            w.writerow([fid, f"frames/{fid}.png", *([""] * len(state.label_names))])
    os.replace(tmp, target)
    (out / "README.txt").write_text(_instructions(state.label_names, loc))
    return target


def _instructions(names: Sequence[str], loc: LoopLocation) -> str:
    manifest = load_manifest(loc.data_path)
    hints = []
    for obj, (xl, dx, yl, dy) in SCREEN_OFFSETS.get(manifest.rom, {}).items():
        hints.append(f"  {obj}: {xl} = pixel x + {-dx}, {yl} = pixel y + {-dy}")
    return ("Fill in one integer in [0, 255] per label column (the RAM byte's value) for each "
            "frame\nin frames/, then: arcadelab label import <this folder>/labels.csv "
            "(same --preset/--set).\nRows left entirely blank are skipped (still pending).\n"
            f"Columns: {', '.join(names)}.\n"
            + ("Where objects are drawn (pixel coordinates of the PNG):\n" + "\n".join(hints)
               + "\n" if hints else ""))


def _frames(data_path: Path, ids: Sequence[str]) -> dict[str, np.ndarray]:
    episodes = sorted({parse_frame_id(i)[0] for i in ids})
    table = read_split(data_path, "train", ["episode_id", "step", "frame"])
    table = table.filter(pc.is_in(table.column("episode_id"), value_set=pa.array(episodes)))
    wanted = set(ids)
    out = {}
    for ep, step, frame in zip(table.column("episode_id").to_pylist(),
                               table.column("step").to_pylist(),
                               table.column("frame").to_pylist(), strict=True):
        fid = frame_id(ep, step)
        if fid in wanted:
            out[fid] = np.frombuffer(frame, np.uint8).reshape(FRAME_SHAPE)
    missing = wanted - set(out)
    if missing:
        raise DatasetError(f"frames {sorted(missing)[:5]} are not in {data_path}'s train split")
    return out


def read_labels(path: Path, state: RoundState) -> tuple[list[str], list[list[int]], int]:
    """Validate every row of a filled-in CSV against the loop's pending frames.

    Returns (ids, values, skipped) where skipped counts rows left entirely blank; raises one
    LabelImportError listing every problem (nothing is imported then)."""
    path = Path(path)
    if not path.is_file():
        raise LabelImportError(f"labels file not found: {path}")
    names = state.label_names
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        missing = [c for c in ("id", *names) if c not in header]
        if missing:
            raise LabelImportError(f"{path}: missing column(s) {missing} (header: {header})")
        rows = list(reader)
    pending, labelled = set(state.pending), set(state.labels)
    errors: list[str] = []
    seen: dict[str, int] = {}
    ids: list[str] = []
    values: list[list[int]] = []
    skipped = 0
    lo, hi = VALUE_RANGE
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        fid = (row.get("id") or "").strip()
        cells = [(row.get(n) or "").strip() for n in names]
        if not fid:
            errors.append(f"line {line}: empty id")
            continue
        if fid in seen:
            errors.append(f"line {line}: duplicate id {fid!r} (first on line {seen[fid]})")
            continue
        seen[fid] = line
        if fid in labelled:
            errors.append(f"line {line}: {fid!r} is already labelled")
            continue
        if fid not in pending:
            errors.append(f"line {line}: unknown id {fid!r} (not queried by the "
                          f"{state.strategy} loop)")
            continue
        if not any(cells):
            skipped += 1
            continue
        row_vals: list[int] = []
        for name, cell in zip(names, cells, strict=True):
            try:
                v = int(cell)
            except ValueError:
                errors.append(f"line {line}: {name} = {cell!r} is " +
                              ("empty" if not cell else "not an integer"))
                continue
            if not lo <= v <= hi:
                errors.append(f"line {line}: {name} = {v} is out of range [{lo}, {hi}]")
                continue
            row_vals.append(v)
        if len(row_vals) == len(names):
            ids.append(fid)
            values.append(row_vals)
    if errors:
        shown = errors[:MAX_ERRORS_SHOWN]
        more = len(errors) - len(shown)
        raise LabelImportError(f"{path}: {len(errors)} bad row(s), nothing imported:\n  "
                               + "\n  ".join(shown) + (f"\n  ... and {more} more" if more else ""))
    if not ids:
        raise LabelImportError(f"{path}: no labelled rows ({skipped} left blank)")
    return ids, values, skipped


def import_labels(loc: LoopLocation, csv_path: Path) -> tuple[RoundState, int, int]:
    """Validate, then add the labels to the loop's state in one atomic save.
    Returns (new state, imported, skipped)."""
    ids, values, skipped = read_labels(csv_path, loc.state)
    state = loc.state.add_labels(ids, values, source="human")
    save_state(loc.path, state)
    return state, len(ids), skipped
