"""Shared plumbing: config, MLflow tracking and registry, Ray runtime, progress, status."""
