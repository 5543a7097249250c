"""Prefect flows that wire `pipelines/` stages together, and the `arcadelab` CLI."""

import os

# Must be set before Prefect configures itself on import:
# - stage logs go through the `arcadelab` logger; Prefect shows them beside its own (terminal
#   and, with a server, the UI);
# - a line the logger writes outside any flow run (the CLI's "local Ray: ..." before the flow
#   starts, so a bad address fails first) still prints; Prefect's API handler has no run to
#   send it to and drops it, which is expected here, so it should not warn each time;
# - no telemetry: nothing leaves the machine, and the ephemeral server's SQLite stays unlocked.
os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "arcadelab")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# - the ephemeral server's first start migrates a fresh SQLite database: on a busy 2-core
#   machine that took longer than Prefect's 20 s default and the first run failed.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
