"""Multimodal learning: inputs, fusion, alignment, retrieval, translation."""
