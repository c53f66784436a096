"""Audio: speech features (numpy) and timed phones -> visemes."""
