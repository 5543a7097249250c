"""What every config section shares: the base model, the error type and small helpers.

`config_digest` and `deep_merge` sit here rather than in loading.py because `ArcadeConfig`
itself uses them (its hash; a config given as `{preset: ...}`), and loading.py builds on it.
Underscore names are private to this package: the section modules share them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, model_validator


class ConfigError(ValueError):
    """Invalid configuration; the message names the offending field."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _no_bools_for_numbers(cls, data: Any) -> Any:
        # pydantic's lax mode reads `true` as 1; a YAML typo must not become a budget.
        if isinstance(data, dict):
            for name, field in cls.model_fields.items():
                value = data.get(name)
                if isinstance(value, bool) and bool not in (field.annotation,
                                                            *get_args(field.annotation)):
                    raise ValueError(f"{name}: expected a number, got {value!r}")
        return data


_T = TypeVar("_T")


def _distinct(v: tuple[_T, ...], message: str) -> tuple[_T, ...]:
    """A non-empty tuple without repeats, else ValueError(`message` + the value)."""
    if not v or len(set(v)) != len(v):
        raise ValueError(f"{message} (got {v})")
    return v


def _subset(v: tuple[str, ...], known: tuple[str, ...], what: str) -> tuple[str, ...]:
    if not v or not set(v) <= set(known):
        raise ValueError(f"{what} must be a non-empty subset of {known} (got {v})")
    return v


def config_digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:12]


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Recursively merge mappings; values in `override` win."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out
