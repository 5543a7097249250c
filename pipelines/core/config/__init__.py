"""One typed config for every stage, with presets and overrides.

Resolution order: preset -> YAML files (in order) -> `--set a.b=value` overrides. Anything
invalid (unknown key, wrong type, negative budget, unknown game id, unknown preset) raises
`ConfigError` naming the field, before any compute starts.

One module per section family, each with its preset sizes beside it: `runtime`, `data`, `rl`
(with `transfer`, `policy_transfer` and the curriculum), `tune`, `pretrain` (with `probe`),
`families` (multimodal, multitask, gan, fewshot), `active`, `data_curriculum`, `pipeline`,
`schedule`; `base` holds what they share, `presets` gathers their sizes, `arcade` holds the
whole `ArcadeConfig` and `loading` resolves one. Import from here: the names below are the
package's interface, wherever they live.
"""

from __future__ import annotations

from pipelines.core.config.active import AL_STRATEGIES, ActiveConfig
from pipelines.core.config.arcade import ArcadeConfig
from pipelines.core.config.base import ConfigError, config_digest, deep_merge
from pipelines.core.config.data import DataConfig
from pipelines.core.config.data_curriculum import (
    CURRICULUM_ORDERS,
    PACINGS,
    DataCurriculumConfig,
)
from pipelines.core.config.families import (
    FUSIONS,
    MM_PARTS,
    MTL_SCHEMES,
    FewshotConfig,
    GanConfig,
    MultimodalConfig,
    MultitaskConfig,
)
from pipelines.core.config.loading import (
    flatten,
    format_errors,
    load_config,
    load_yaml,
    parse_set,
    to_yaml,
    validate,
    with_section,
)
from pipelines.core.config.pipeline import STAGES, PipelineConfig
from pipelines.core.config.presets import PRESETS
from pipelines.core.config.pretrain import ENCODER_VIEWS, SSL_METHODS, PretrainConfig, ProbeConfig
from pipelines.core.config.rl import (
    CURRICULUM_KEYS,
    CurriculumConfig,
    PolicyTransferConfig,
    RLConfig,
    TransferConfig,
)
from pipelines.core.config.runtime import RuntimeConfig
from pipelines.core.config.schedule import DeploymentConfig, ScheduleConfig
from pipelines.core.config.tune import TUNE_EXCLUDED, TUNE_GRIDS, TUNE_METRICS, TuneConfig
from pipelines.core.game_fit import game_variants as game_variants  # stages import it here

__all__ = [
    "AL_STRATEGIES",
    "CURRICULUM_KEYS",
    "CURRICULUM_ORDERS",
    "ENCODER_VIEWS",
    "FUSIONS",
    "MM_PARTS",
    "MTL_SCHEMES",
    "PACINGS",
    "PRESETS",
    "SSL_METHODS",
    "STAGES",
    "TUNE_EXCLUDED",
    "TUNE_GRIDS",
    "TUNE_METRICS",
    "ActiveConfig",
    "ArcadeConfig",
    "ConfigError",
    "CurriculumConfig",
    "DataConfig",
    "DataCurriculumConfig",
    "DeploymentConfig",
    "FewshotConfig",
    "GanConfig",
    "MultimodalConfig",
    "MultitaskConfig",
    "PipelineConfig",
    "PolicyTransferConfig",
    "PretrainConfig",
    "ProbeConfig",
    "RLConfig",
    "RuntimeConfig",
    "ScheduleConfig",
    "TransferConfig",
    "TuneConfig",
    "config_digest",
    "deep_merge",
    "flatten",
    "format_errors",
    "game_variants",
    "load_config",
    "load_yaml",
    "parse_set",
    "to_yaml",
    "validate",
    "with_section",
]
