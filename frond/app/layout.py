"""The page: the inputs and examples, one widget per setting of `frond.config.APP_SETTINGS`, the
Generate button with its status, the result panels, and the events that tie them to the handlers.

What a visitor sees on Generate: the previous results go at once, the status under the button shows
the stage and percent (as the panels do), and when the video is ready the page scrolls to the
results. On narrow screens the panels stack with the output video first.
"""
from __future__ import annotations

import itertools
import json
from pathlib import Path

import gradio as gr

from ..config import APP_SETTINGS
from ..pipeline import FrondPipeline
from ..viz import PLOT_SIZE_PX
from .describe import path_details, plain_path
from .handlers import make_generate, make_portrait_note, make_validator
from .options import AppConfig
from .runtime import OutputDirs
from .widgets import friendly_image_errors, setting_widget

PORTRAIT_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
SPEECH_SUFFIXES = (".wav", ".mp3", ".flac", ".ogg", ".m4a")
MAX_EXAMPLES = 12
PANEL_HEIGHT = PLOT_SIZE_PX[1]  # px, the four result panels: the trajectory plot is drawn for this height
NARROW = 1100  # px: below this width the panels no longer fit in one row and stack
CSS = f"""
#frond-header h1 {{ margin-bottom: 0.1em; }}
#frond-mode {{ font-size: 0.95em; }}
.frond-panel {{ min-width: 220px; }}
#generate-btn {{ min-height: 3em; }}
#run-status {{ min-height: 4.5em; }}
@media (max-width: {NARROW}px) {{ #output-panel {{ order: -1; }} }}
"""
SHOW_RESULTS_JS = "() => document.getElementById('results')?.scrollIntoView({behavior: 'smooth', block: 'start'})"


def clear_js(n_outputs: int) -> str:
    """The click's first step, in the browser: empty every result panel and bring the status into view."""
    return ("() => { document.getElementById('run-status')?.scrollIntoView({block: 'nearest'}); "
            f"return {json.dumps([None] * n_outputs)}; }}")


def find_examples(folder: Path) -> tuple[list[list[str]], list[str]]:
    """Portrait x speech pairs from `folder` (all pairs when few, else each file at least once)."""
    if not folder.is_dir():
        return [], []
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    portraits = [p for p in files if p.suffix.lower() in PORTRAIT_SUFFIXES]
    speech = [p for p in files if p.suffix.lower() in SPEECH_SUFFIXES]
    if not portraits or not speech:
        return [], []
    if len(portraits) * len(speech) <= MAX_EXAMPLES:
        pairs = list(itertools.product(portraits, speech))
    else:
        n = max(len(portraits), len(speech))
        pairs = [(portraits[i % len(portraits)], speech[i % len(speech)]) for i in range(n)][:MAX_EXAMPLES]
    return [[str(p), str(s)] for p, s in pairs], [f"{p.stem} + {s.stem}" for p, s in pairs]


def startup_text(config: AppConfig, pipeline: FrondPipeline, notices: list[str]) -> str:
    """The lines under the title: what runs in plain words, a warning when the asked-for weights failed,
    notices, and each stage's details (one click away)."""
    text = plain_path(pipeline.stage_weights)
    if config.weights and pipeline.weights_error:
        text = (f"⚠️ **The weights `{config.weights}` could not be loaded** ({pipeline.weights_error.rstrip('.')}): "
                f"every video is made with the bundled stages instead. Check FROND_WEIGHTS / --weights.  \n" + text)
    if notices:
        text += "  \n" + "  \n".join(f"ⓘ {n}" for n in notices)
    return text + "\n\n" + path_details(pipeline.modes)


def build_demo(config: AppConfig, pipeline: FrondPipeline, notices: list[str] | None = None) -> gr.Blocks:
    dirs = OutputDirs(max_age_seconds=min(config.cache_seconds, 900))
    examples, example_labels = find_examples(config.examples_dir)
    notices = list(pipeline.notices) if notices is None else notices

    with gr.Blocks(title="FROND talking faces", fill_width=True, delete_cache=(600, config.cache_seconds)) as demo:
        gr.Markdown(
            "# FROND: talking faces\n"
            "One portrait plus speech gives a lip-synced video. Keypoints move along continuous "
            "trajectories, a dense motion field warps the portrait, and a decoder renders each frame.",
            elem_id="frond-header",
        )
        gr.Markdown(startup_text(config, pipeline, notices), elem_id="frond-mode")

        with gr.Row():
            with gr.Column(scale=2, min_width=260):
                default = examples[0] if examples else (None, None)  # open ready to go: press Generate
                portrait = friendly_image_errors(gr.Image(
                    value=default[0], label="Portrait", type="filepath", image_mode=None,
                    sources=["upload", "clipboard", "webcam"], height=320, elem_id="portrait",
                ))
                portrait_note = gr.Markdown(elem_id="portrait-note")  # several faces: which one is animated
            with gr.Column(scale=2, min_width=260):
                speech = gr.Audio(
                    value=default[1], label="Speech", type="filepath", sources=["upload", "microphone"], elem_id="speech",
                )
                gr.Markdown(f"Up to {config.max_audio_seconds:g} s: WAV, MP3, FLAC, OGG, M4A, or record.")
                driving = gr.Video(label="Driving video (optional: its face moves the portrait, its sound is the "
                                         "soundtrack; it wins over the speech)", sources=["upload", "webcam"],
                                   height=160, elem_id="driving-video")
                if examples:
                    gr.Examples(
                        examples=examples, inputs=[portrait, speech], example_labels=example_labels,
                        cache_examples=False, label="Examples: click one, then Generate",
                        examples_per_page=MAX_EXAMPLES,
                    )
                generate_btn = gr.Button("Generate", variant="primary", elem_id="generate-btn")
                status = gr.Markdown(elem_id="run-status")  # the run's stage and percent, where the eye is
            with gr.Column(scale=3, min_width=320):
                with gr.Accordion("Settings", open=True):
                    widgets: dict[str, gr.components.Component] = {}
                    with gr.Row():
                        for column in sorted({s.column for s in APP_SETTINGS}):
                            with gr.Column(min_width=180):
                                widgets.update({s.api_name: setting_widget(s) for s in APP_SETTINGS if s.column == column})
                    reset_btn = gr.Button("Reset to defaults", size="sm", elem_id="reset-btn")

        # The results. Labels name the API outputs; the headers above them are what people read.
        with gr.Column(elem_id="results"):
            with gr.Row(equal_height=True):
                with gr.Column(scale=1, min_width=240, elem_classes="frond-panel"):
                    gr.Markdown("**1 · Aligned input**, with its keypoints")
                    aligned_out = gr.Image(label="aligned", show_label=False, type="filepath", format="png",
                                           interactive=False, height=PANEL_HEIGHT, buttons=["fullscreen", "download"],
                                           elem_id="aligned-out")
                with gr.Column(scale=2, min_width=360, elem_classes="frond-panel"):
                    gr.Markdown("**2 · Keypoint trajectories**: mouth, lips, head and eyes over time")
                    plot_out = gr.Image(label="trajectories", show_label=False, type="filepath", format="png",
                                        interactive=False, height=PANEL_HEIGHT, buttons=["fullscreen", "download"],
                                        elem_id="trajectories-out")
                with gr.Column(scale=1, min_width=240, elem_classes="frond-panel"):
                    gr.Markdown("**3 · Dense motion field**: how each pixel moves (key below)")
                    field_out = gr.Video(label="motion_field", show_label=False, interactive=False, autoplay=True,
                                         loop=True, height=PANEL_HEIGHT, elem_id="field-out")
                with gr.Column(scale=1, min_width=240, elem_classes="frond-panel", elem_id="output-panel"):
                    gr.Markdown("**4 · Output**, with sound")
                    video_out = gr.Video(label="output_video", show_label=False, interactive=False,
                                         height=PANEL_HEIGHT, elem_id="output-video")
            with gr.Row():
                with gr.Column(scale=2, min_width=320):
                    gr.Markdown("**Side by side**: input · motion field · output, with sound")
                    combined_out = gr.Video(label="side_by_side", show_label=False, interactive=False,
                                            elem_id="combined-out")
                info_out = gr.Markdown(label="run_info", elem_id="run-info", min_width=280)

        settings = [widgets[s.api_name] for s in APP_SETTINGS]  # in the API's order
        outputs = [aligned_out, plot_out, field_out, video_out, combined_out, info_out]
        run = generate_btn.click(  # in the browser: the last results go at once (and stay gone if this request fails)
            None, None, outputs, js=clear_js(len(outputs)), queue=False, api_visibility="private",
        ).then(
            make_generate(dirs),
            inputs=[portrait, speech, *settings, driving],
            outputs=outputs,
            api_name="generate",
            concurrency_limit=config.concurrency,
            concurrency_id="generate",
            validator=make_validator(config),
            show_progress_on=[status, aligned_out, plot_out, field_out, video_out],
        )
        run.success(None, js=SHOW_RESULTS_JS, api_visibility="private")
        portrait.change(make_portrait_note(config), inputs=portrait, outputs=portrait_note, api_name="portrait_note",
                        api_visibility="undocumented", queue=False, show_progress="hidden")
        defaults = [s.to_app(s.default) for s in APP_SETTINGS]
        reset_btn.click(lambda: defaults, outputs=settings, api_visibility="private", queue=False)
    return demo
