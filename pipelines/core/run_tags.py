"""The tags arcadelab puts on its MLflow runs. No imports, so a reader (`arcadelab status`)
names them without loading MLflow."""

from __future__ import annotations

TAG_STAGE = "arcadelab.stage"
TAG_FLOW = "arcadelab.flow"
TAG_FLOW_RUN_ID = "arcadelab.flow_run_id"
TAG_CONFIG_HASH = "arcadelab.config_hash"
TAG_GIT_SHA = "arcadelab.git_sha"
TAG_PRESET = "arcadelab.preset"
# The process that opened a run, so a later flow run can tell one that was SIGKILLed (still
# RUNNING, its process gone) from one still under way (`tracking.reap_orphans`).
TAG_HOST = "arcadelab.host"
TAG_PID = "arcadelab.pid"
TAG_PARENT = "mlflow.parentRunId"  # MLflow's own: a nested run's parent
