"""Audio: speech features (librosa) and timed phones -> visemes."""
