"""Active learning: acquisition, pool, head, round state, stream, label import."""
