"""Reinforcement learning: PPO training, experiment arms, policy transfer, videos."""
