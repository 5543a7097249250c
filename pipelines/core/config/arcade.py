"""`ArcadeConfig`: the whole config of a flow run, one field per section, and the checks that
need the game (which only the whole config knows)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from agents.atari_env import check_game_id
from pipelines.core.config.active import ActiveConfig
from pipelines.core.config.base import _Section, config_digest, deep_merge
from pipelines.core.config.data import DataConfig
from pipelines.core.config.data_curriculum import DataCurriculumConfig
from pipelines.core.config.families import (
    FewshotConfig,
    GanConfig,
    MultimodalConfig,
    MultitaskConfig,
)
from pipelines.core.config.pipeline import PipelineConfig
from pipelines.core.config.presets import PRESETS
from pipelines.core.config.pretrain import PretrainConfig, ProbeConfig
from pipelines.core.config.rl import (
    CurriculumConfig,
    PolicyTransferConfig,
    RLConfig,
    TransferConfig,
)
from pipelines.core.config.runtime import RuntimeConfig
from pipelines.core.config.schedule import ScheduleConfig
from pipelines.core.config.tune import TuneConfig
from pipelines.core.game_fit import (
    KNOWN_RL_CURRICULA,
    default_rl_curriculum,
    tasks_problem,
    variants_problem,
)


class ArcadeConfig(_Section):
    """The whole resolved config of a flow run."""

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        # A config given as an object ({preset: smoke, ...}, e.g. a deployment's parameters)
        # means that preset's sizes under its own values, as when loaded by name; a resolved
        # config (every field explicit) is unchanged by it.
        if isinstance(data, Mapping) and "preset" in data:
            if data["preset"] not in PRESETS:
                raise ValueError(f"preset: unknown preset {data['preset']!r} "
                                 f"(choose from {', '.join(PRESETS)})")
            data = deep_merge(PRESETS[data["preset"]], data)
        return _game_defaults(data)

    preset: str = Field("laptop", description="the preset this config started from")
    game: str = Field("ALE/Pong-v5", description="ALE env id shared by every stage")
    seed: int = Field(0, ge=0, description="root seed; stages derive theirs from it")
    runtime: RuntimeConfig = RuntimeConfig()
    data: DataConfig = DataConfig()
    pretrain: PretrainConfig = PretrainConfig()
    probe: ProbeConfig = ProbeConfig()
    rl: RLConfig = RLConfig()
    transfer: TransferConfig = TransferConfig()
    tune: TuneConfig = TuneConfig()
    policy_transfer: PolicyTransferConfig = PolicyTransferConfig()
    rl_curriculum: CurriculumConfig = Field(
        CurriculumConfig(**KNOWN_RL_CURRICULA["pong"]),
        description="the curriculum the rl_curriculum comparison trains with; its last task is "
        "the target both arms are evaluated on. No tasks named: the game's (Pong: difficulty "
        "0 -> 2, which halves the player's paddle, 16 -> 8 pixel rows, measured; else first -> "
        "last difficulty, else the first two modes, else none: the stage is skipped)")
    pipeline: PipelineConfig = PipelineConfig()
    multimodal: MultimodalConfig = MultimodalConfig()
    multitask: MultitaskConfig = MultitaskConfig()
    gan: GanConfig = GanConfig()
    fewshot: FewshotConfig = FewshotConfig()
    active: ActiveConfig = ActiveConfig()
    data_curriculum: DataCurriculumConfig = DataCurriculumConfig()
    schedule: ScheduleConfig = ScheduleConfig()

    @field_validator("game")
    @classmethod
    def _known_game(cls, v: str) -> str:
        return check_game_id(v)

    @field_validator("policy_transfer")
    @classmethod
    def _variants_exist(cls, v: PolicyTransferConfig, info: ValidationInfo
                        ) -> PolicyTransferConfig:
        # ALE raises a bare error for a mode the ROM lacks, minutes into a flow: check here.
        game = info.data.get("game")
        if game is None:  # the game itself was invalid and is reported on its own
            return v
        problem = variants_problem(game, v.modes or (), v.difficulties or ())
        if problem:
            raise ValueError(problem)
        return v

    @field_validator("rl_curriculum")
    @classmethod
    def _tasks_exist(cls, v: CurriculumConfig, info: ValidationInfo) -> CurriculumConfig:
        game = info.data.get("game")
        problem = None if game is None else tasks_problem(game, v.tasks)
        if problem:
            raise ValueError(f"tasks: {problem}")
        return v

    @field_validator("rl")
    @classmethod
    def _rl_fits_game(cls, v: RLConfig, info: ValidationInfo) -> RLConfig:
        game = info.data.get("game")
        problem = None if game is None else v.game_problem(game)
        if problem:
            raise ValueError(problem)
        return v

    @field_validator("data_curriculum", "active")
    @classmethod
    def _labels_fit_game(cls, v: DataCurriculumConfig | ActiveConfig, info: ValidationInfo
                         ) -> DataCurriculumConfig | ActiveConfig:
        # ball_speed and named labels are per game: refused here, not minutes into a flow.
        game = info.data.get("game")
        problem = None if game is None else v.game_problem(game)
        if problem:
            raise ValueError(problem)
        return v

    def science(self) -> dict[str, Any]:
        """Everything that changes results (all but runtime, schedule and the preset label)."""
        return self.model_dump(mode="json", exclude={"runtime", "preset", "schedule"})

    def hash(self, section: str | None = None) -> str:
        """Stable 12-hex digest of the science (or of one stage section plus game and seed)."""
        sci = self.science()
        if section is not None:
            sci = {"game": sci["game"], "seed": sci["seed"], section: sci[section]}
        return config_digest(sci)


def _game_defaults(data: Any) -> Any:
    """A config object with the settings it leaves to its game filled in: rl_curriculum's
    tasks (the game's variants; for Pong also its threshold) when it names none, under the
    rl_curriculum fields it does name. A resolved config names them all: unchanged."""
    if not isinstance(data, Mapping):
        return data
    cur = data.get("rl_curriculum", {})
    if not isinstance(cur, Mapping) or "tasks" in cur:
        return data
    game = data.get("game", ArcadeConfig.model_fields["game"].default)
    try:
        check_game_id(game)
    except (TypeError, ValueError):
        return data  # the game field reports its own error
    return {**data, "rl_curriculum": {**default_rl_curriculum(game), **cur}}
