"""The model card written next to the weights (README.md of a saved folder / Hub repo).

`FrondModel.save_pretrained` fills it from `FrondConfig.training`, so the card states
which stages were trained, on what data, for how long, and what was measured.
docs/MODEL_CARD.md explains each section.
"""
from __future__ import annotations

MODEL_CARD_TEMPLATE = """---
{{ card_data }}
---

# FROND learned modules ({{ stages_text }})

Networks of FROND (Fine-gRained mOtioN moDel), an open re-implementation of the ideas of
"Toward Fine-Grained Talking Face Generation" (IEEE TIP 2023, doi 10.1109/TIP.2023.3323452):
a two-stream encoder (68 keypoints + global code), an audio-to-motion estimator that predicts
cubic B-spline coefficients of the face's articulation over time (jaw, cheeks, brows, lips: the local
stream) and of the head pose's mean and spread (the global stream), from log-mel and the phones
pocketsphinx hears, a dense motion field fusing keypoint and global motion (flow + occlusion),
and a LIIF-style implicit image decoder. Only the stages listed below carry trained weights.

**These are not the paper authors' weights.** No official FROND weights exist. These weights
were trained with `python -m frond train` from this project, on the data stated below only.

- Code: {{ repo_url | default("[More Information Needed]", true) }}
- Paper: {{ paper_url | default("[More Information Needed]", true) }}
- Trained stages: {{ stages_text }}
- Parameters: {{ n_params }}

## Training data

{{ training_data | default("[Not recorded: fill in the clips, their sources and licences]", true) }}

{{ provenance_text | default("", true) }}

## Training

{{ training_text | default("[Not recorded]", true) }}

## What was measured

{{ folds_text | default("", true) }}

{{ metrics_text | default("Nothing measured yet. Report held-out-frame reconstruction PSNR/SSIM (`frond.train.evaluate_render`) and mouth-opening correlation before claiming quality.", true) }}

## Limitations

- Trained only on the data above; faces, languages, lighting and poses outside it are untested.
- The keypoint space is the 68-point iBUG layout measured by MediaPipe (or face-alignment):
  its detection noise is part of the motion targets.
- The head pose is a crude geometric estimate from 2D landmarks: the render stage's conditioning, and
  the motion stage's head targets (turn and shift in the video's own frame).
- The head's motion is one seeded draw around the predicted mean and spread: plausible, not the
  speaker's own.
- Do not use to impersonate people or to produce content a person did not consent to.

## Use

```python
from frond.weights.model import FrondModel
model = FrondModel.from_pretrained("path/or/repo-id")  # safetensors + config.json, no pickles
```
or `python -m frond generate --weights path/or/repo-id[@revision] ...`.
"""
