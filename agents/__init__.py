"""RL side of arcadelab: ALE env factories, RLlib configs and RLModules over `models/` encoders."""
