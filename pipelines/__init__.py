"""Stage logic as plain functions: typed config in, typed result out (no Prefect here)."""
