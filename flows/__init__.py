"""Prefect flows that wire `pipelines/` stages together, and the `arcadelab` CLI."""

import os

# Must be set before Prefect configures itself on import:
# - stage logs go through the `arcadelab` logger; Prefect shows them beside its own (terminal
#   and, with a server, the UI);
# - no telemetry: nothing leaves the machine, and the ephemeral server's SQLite stays unlocked.
os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "arcadelab")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# - the ephemeral server's first start migrates a fresh SQLite database: on a busy 2-core
#   machine that took longer than Prefect's 20 s default and the first run failed.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
