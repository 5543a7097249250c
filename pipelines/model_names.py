"""Names of the registered models and the alias for a random-init encoder (no imports, so the
CLI and the stage registry read them without loading MLflow or torch)."""

ENCODER_MODEL = "arcadelab-encoder"
POLICY_MODEL = "arcadelab-policy"
RANDOM = "random"  # the alias that asks for a seeded random-init encoder
