"""The presets (`smoke`, `laptop`, `cluster`): partial overrides of the defaults, gathered from
the sizes each section module keeps beside its section (`PRESET_SIZES`)."""

from __future__ import annotations

from typing import Any

# Each from its module, not through the package: the package's __init__ imports this module.
from pipelines.core.config.active import PRESET_SIZES as ACTIVE
from pipelines.core.config.data import PRESET_SIZES as DATA
from pipelines.core.config.data_curriculum import PRESET_SIZES as DATA_CURRICULUM
from pipelines.core.config.families import PRESET_SIZES as FAMILIES
from pipelines.core.config.pretrain import PRESET_SIZES as PRETRAIN
from pipelines.core.config.rl import PRESET_SIZES as RL
from pipelines.core.config.tune import PRESET_SIZES as TUNE

# The sizes of the section modules that size their sections per preset; a new one joins here.
_SIZED = (DATA, PRETRAIN, TUNE, RL, FAMILIES, ACTIVE, DATA_CURRICULUM)

# `laptop` is the defaults: no module overrides it.
PRESETS: dict[str, dict[str, Any]] = {
    preset: {section: fields
             for sizes in _SIZED
             for section, fields in sizes.get(preset, {}).items()}
    for preset in ("smoke", "laptop", "cluster")
}
