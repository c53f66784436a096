"""Faces: 68-point landmarks (MediaPipe or face-alignment), alignment crop and paste-back."""
from .align import align_face
from .landmarks import detect_faces

__all__ = ["align_face", "detect_faces"]
