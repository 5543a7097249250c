"""Prefect flows that wire `pipelines/` stages together, and the `arcadelab` CLI."""

import os

# Must be set before Prefect configures itself on import:
# - stage logs go through the `arcadelab` logger; Prefect shows them beside its own (terminal
#   and, with a server, the UI);
# - no telemetry: nothing leaves the machine, and the ephemeral server's SQLite stays unlocked.
os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "arcadelab")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
