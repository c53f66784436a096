"""Decoders: source + dense field -> frame."""
