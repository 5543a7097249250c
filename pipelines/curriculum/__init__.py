"""Curriculum learning over examples: easy frames first, against random order."""
