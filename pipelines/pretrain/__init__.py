"""Encoder pretraining: distributed training, the stage, supervised probes."""
