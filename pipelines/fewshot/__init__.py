"""Few-shot (prototypical networks) and zero-shot (CLIP-style) classification."""
