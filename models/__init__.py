"""torch-only building blocks: encoders, heads, losses. Imports nothing but torch and numpy."""
