"""Multi-task learning: single-task, hard and soft parameter sharing."""
