"""Dense motion fields: local keypoint motion fused with the head's global motion."""
