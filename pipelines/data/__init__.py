"""The dataset: rollouts, splits, RAM labels, views, modalities, game events."""
