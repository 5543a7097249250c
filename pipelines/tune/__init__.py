"""Ray Tune sweeps: the sweep driver and its RL and active-learning trials."""
