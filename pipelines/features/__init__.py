"""Frozen frame encoders and the linear probes that score their features."""
