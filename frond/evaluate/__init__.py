"""Measuring FROND against real talking clips.

- `clip`: one clip self-reconstructed (first frame + own audio) and measured against the real frames;
- `reenact`: one clip reenacted from its first frame by itself (video-driven): the renderer alone;
- `folder`: every clip of a folder into one report;
- `folds`: speaker-disjoint cross-validation of the motion stage (trains with `frond.train`);
- `report`: the columns, means, tables, plots and JSON of a report;
- `cli`: the `evaluate` command.
"""
