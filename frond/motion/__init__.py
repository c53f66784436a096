"""Audio-driven motion in a continuous trajectory space (training-free prior)."""
