"""Resolving a config: preset -> YAML files -> `--set` overrides -> runtime flags, validated
into an `ArcadeConfig`, with errors that name the field; and the forms a config is written in
(YAML, flat MLflow params)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from pipelines.core.config.arcade import ArcadeConfig
from pipelines.core.config.base import ConfigError, deep_merge
from pipelines.core.config.presets import PRESETS


def parse_set(expr: str) -> dict[str, Any]:
    """`a.b=3` -> {"a": {"b": 3}}; the value is parsed as YAML (numbers, bools, lists)."""
    key, sep, raw = expr.partition("=")
    if not sep or not key.strip() or any(not part for part in key.strip().split(".")):
        raise ConfigError(f"--set expects key.path=value, got {expr!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {key}: value {raw!r} is not valid YAML ({exc})") from None
    node: Any = value
    for part in reversed(key.strip().split(".")):
        node = {part: node}
    return node


def load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    return data


def load_config(
    preset: str = "laptop",
    files: Iterable[Path] = (),
    sets: Iterable[str] = (),
    runtime: Mapping[str, Any] | None = None,
) -> ArcadeConfig:
    """Resolve preset -> files -> --set overrides -> runtime flags into a validated config."""
    if preset not in PRESETS:
        raise ConfigError(f"preset: unknown preset {preset!r} (choose from {', '.join(PRESETS)})")
    merged: dict[str, Any] = deep_merge({}, PRESETS[preset])
    for path in files:
        merged = deep_merge(merged, load_yaml(path))
    for expr in sets:
        merged = deep_merge(merged, parse_set(expr))
    if runtime:
        flags = {k: v for k, v in runtime.items() if v is not None}
        merged = deep_merge(merged, {"runtime": flags})
    merged["preset"] = preset
    return validate(merged)


def with_section(cfg: ArcadeConfig, section: str, **fields: object) -> ArcadeConfig:
    """A copy of `cfg` with some fields of one section replaced, validated like any other."""
    data = cfg.model_dump(mode="json")
    data[section] = {**data[section], **fields}
    return validate(data)


def validate(data: Mapping[str, Any]) -> ArcadeConfig:
    try:
        return ArcadeConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc)) from None


def format_errors(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            lines.append(f"{loc}: unknown key{_suggest(err['loc'])}")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            head, sep, rest = msg.partition(": ")
            if sep and head.isidentifier():  # a section-level check naming its field
                lines.append(f"{loc + '.' if loc else ''}{head}: {rest}")
            else:
                lines.append(f"{loc}: {msg} (got {err.get('input')!r})")
    return "invalid config:\n  " + "\n  ".join(lines)


def _suggest(loc: tuple[Any, ...]) -> str:
    model: type[BaseModel] = ArcadeConfig
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        if field is None or not isinstance(field.annotation, type):
            return ""
        model = field.annotation
    known = list(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known)})"


def to_yaml(cfg: ArcadeConfig) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}: the form MLflow params take."""
    out: dict[str, Any] = {}
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out
