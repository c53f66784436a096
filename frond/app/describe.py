"""What the page says about what ran: in plain words first ("lip motion: learned from real speakers;
face rendering: training-free"), each stage's variant and weights one click away (a <details>
element), and the summary under the videos. The stage names are `frond.stages`'s (`modes`:
PRIOR_NAME or "learned: <weights>"); `stage_weights` says which stages are learned."""
from __future__ import annotations

from collections.abc import Mapping

from ..stages import PRIOR_NAME
from ..types import GenerationResult

STAGE_TITLES = {  # the paper's four stages, as the details name them
    "encoder": "keypoints + global code",
    "motion": "audio → keypoint motion",
    "field": "dense motion field",
    "decoder": "image decoder",
}
LIP_MOTION = {True: "learned from real speakers", False: "training-free (speech sounds → mouth shapes)"}


def plain_path(stage_weights: Mapping[str, str | None]) -> str:
    """Stage -> weights id (None: the prior) -> "lip motion: ...; face rendering: ..." in Markdown."""
    rendering = [stage for stage in stage_weights if stage != "motion"]
    learned = [stage for stage in rendering if stage_weights[stage] is not None]
    render = ("training-free" if not learned else "learned" if len(learned) == len(rendering)
              else "learned " + ", ".join(STAGE_TITLES.get(s, s) for s in learned) + "; the rest training-free")
    return f"Lip motion: **{LIP_MOTION[stage_weights.get('motion') is not None]}**; face rendering: **{render}**."


def path_details(modes: Mapping[str, str]) -> str:
    """Stage -> its display name, as a closed <details> element listing each stage."""
    rows = "".join(f"<li>{STAGE_TITLES.get(stage, stage)}: {name}</li>" for stage, name in modes.items())
    return f"<details><summary>Which stages ran</summary><ul>{rows}</ul></details>"


def describe_path(stage_weights: Mapping[str, str | None]) -> str:
    """One line for the log: PRIOR_NAME, or which learned weights (Hub id@revision, or the bundled
    motion network) ran on which stages."""
    learned = {stage: weights for stage, weights in stage_weights.items() if weights is not None}
    if not learned:
        return PRIOR_NAME
    ids = ", ".join(f"`{w}`" for w in dict.fromkeys(learned.values()))
    prior = [stage for stage in stage_weights if stage not in learned]
    text = f"learned weights {ids}"
    if prior:
        text += f" for {', '.join(learned)}; {PRIOR_NAME} for {', '.join(prior)}"
    return text


def summary(result: GenerationResult, elapsed: float) -> str:
    """The Markdown beside the side-by-side video: what ran, the video's size and time, the notices."""
    lines = [
        f"{plain_path(result.stage_weights)}  \n"
        f"{result.duration:.2f} s of video, {result.n_frames} frames at {result.fps:g} fps, "
        f"{result.width}×{result.height}, made in {elapsed:.1f} s.",
    ]
    if result.notices:
        lines.append("\n".join(f"- {notice}" for notice in result.notices))
    lines.append(path_details(result.modes))
    return "\n\n".join(lines)
