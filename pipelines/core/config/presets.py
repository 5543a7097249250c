"""The presets (`smoke`, `laptop`, `cluster`): partial overrides of the defaults, gathered from
the sizes each section module keeps beside its section (`PRESET_SIZES`)."""

from __future__ import annotations

from typing import Any

from pipelines.core.config import active, data, data_curriculum, families, pretrain, rl, tune

# The section modules that size their sections per preset; a new one joins here.
_SIZED = (data, pretrain, tune, rl, families, active, data_curriculum)

# `laptop` is the defaults: no module overrides it.
PRESETS: dict[str, dict[str, Any]] = {
    preset: {section: fields
             for module in _SIZED
             for section, fields in module.PRESET_SIZES.get(preset, {}).items()}
    for preset in ("smoke", "laptop", "cluster")
}
