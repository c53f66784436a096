"""The page: the inputs and examples, one widget per setting of `frond.config.APP_SETTINGS`, the
four result panels, and the events that tie them to the handlers."""
from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import gradio as gr

from ..config import APP_SETTINGS, Setting
from ..pipeline import FrondPipeline
from .handlers import describe_path, make_generate, make_portrait_note, make_validator
from .options import AppConfig
from .runtime import OutputDirs

PORTRAIT_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
SPEECH_SUFFIXES = (".wav", ".mp3", ".flac", ".ogg", ".m4a")
MAX_EXAMPLES = 12
PANEL_HEIGHT = 400  # px, the four result panels
CSS = """
#frond-header h1 { margin-bottom: 0.1em; }
#frond-mode { font-size: 0.95em; }
.frond-panel { min-width: 220px; }
#generate-btn { min-height: 3em; }
"""


def friendly_image_errors(component: gr.Image) -> gr.Image:
    """Let FROND's own reader judge an upload that PIL cannot open.

    gr.Image opens the upload with PIL before our functions run, and a failure there would
    surface as an unexplained error (before the validator, even). Instead the raw upload's
    path goes on, and `load_image` refuses it with its message ("Could not read ... as an
    image ..."). (An instance attribute, not a subclass: Gradio writes a .pyi stub next to any
    file that defines a Component subclass.)
    """
    original = component.preprocess

    def preprocess(payload: Any) -> Any:
        try:
            return original(payload)
        except gr.Error:
            raise
        except Exception:  # noqa: BLE001 - not an image PIL can open: our reader says why
            path = getattr(payload, "path", None)
            if path is None:
                raise gr.Error("Could not read the upload as an image. Upload a PNG, JPEG or WebP photo with a face in it.",
                               title="Cannot use this portrait", print_exception=False) from None
            return path

    component.preprocess = preprocess  # type: ignore[method-assign]
    return component


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


def setting_widget(setting: Setting) -> gr.components.Component:
    """The widget the table names for one setting, at its default, labelled, with its help as info."""
    common: dict[str, Any] = dict(value=setting.to_app(setting.default), label=setting.label, info=setting.help,
                                  elem_id=setting.api_name)
    if setting.widget == "slider":
        low, high = setting.slider or (setting.low, setting.high)
        assert low is not None and high is not None, f"the slider {setting.name} needs ends"
        return gr.Slider(low, high, step=setting.step, **common)
    if setting.widget == "radio":
        values = setting.app_values or setting.choices
        labels = setting.choice_labels or tuple(str(v) for v in values)
        return gr.Radio(list(zip(labels, values)), **common)
    if setting.widget == "number":
        return gr.Number(precision=0 if setting.kind is int else None, minimum=setting.low, maximum=setting.high, **common)
    raise ValueError(f"{setting.name}: unknown widget {setting.widget!r}")


def startup_text(config: AppConfig, pipeline: FrondPipeline, notices: list[str]) -> str:
    """The line under the title: the path in use, a warning when the asked-for weights failed, notices."""
    text = f"**Path:** {describe_path(pipeline.stage_weights)}"
    if config.weights and pipeline.weights_error:
        text = (f"⚠️ **The weights `{config.weights}` could not be loaded** ({pipeline.weights_error.rstrip('.')}): "
                f"every video is made with the bundled stages instead. Check FROND_WEIGHTS / --weights.  \n" + text)
    if notices:
        text += "  \n" + "  \n".join(f"ⓘ {n}" for n in notices)
    return text


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
                gr.Markdown(
                    f"Any common audio format (WAV, MP3, FLAC, OGG, M4A) up to "
                    f"{config.max_audio_seconds:g} s, or record with the microphone."
                )
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
            with gr.Column(scale=3, min_width=320):
                with gr.Accordion("Settings", open=True):
                    widgets: dict[str, gr.components.Component] = {}
                    with gr.Row():
                        for column in sorted({s.column for s in APP_SETTINGS}):
                            with gr.Column(min_width=180):
                                widgets.update({s.api_name: setting_widget(s) for s in APP_SETTINGS if s.column == column})
                    reset_btn = gr.Button("Reset to defaults", size="sm", elem_id="reset-btn")

        # The four panels. Labels name the API outputs; the headers above them are what people read.
        with gr.Row(equal_height=True):
            with gr.Column(scale=1, min_width=240, elem_classes="frond-panel"):
                gr.Markdown("**1 · Aligned input**: the detected keypoints")
                aligned_out = gr.Image(label="aligned", show_label=False, type="filepath", format="png",
                                       interactive=False, height=PANEL_HEIGHT, elem_id="aligned-out")
            with gr.Column(scale=2, min_width=360, elem_classes="frond-panel"):
                gr.Markdown("**2 · Keypoint trajectories**: mouth opening, lip width, head pose, with the audio envelope")
                plot_out = gr.Image(label="trajectories", show_label=False, type="filepath", format="png",
                                    interactive=False, height=PANEL_HEIGHT, elem_id="trajectories-out")
            with gr.Column(scale=1, min_width=240, elem_classes="frond-panel"):
                gr.Markdown("**3 · Dense motion field**: colour = direction, arrows = motion")
                field_out = gr.Video(label="motion_field", show_label=False, interactive=False, autoplay=True,
                                     loop=True, height=PANEL_HEIGHT, elem_id="field-out")
            with gr.Column(scale=1, min_width=240, elem_classes="frond-panel"):
                gr.Markdown("**4 · Output**: the talking face, with sound")
                video_out = gr.Video(label="output_video", show_label=False, interactive=False,
                                     height=PANEL_HEIGHT, elem_id="output-video")
        with gr.Row():
            combined_out = gr.File(label="Download: input | motion field | output, side by side (MP4)",
                                   interactive=False, height=90, elem_id="combined-out", scale=1)
            info_out = gr.Markdown(label="run_info", elem_id="run-info")

        settings = [widgets[s.api_name] for s in APP_SETTINGS]  # in the API's order
        generate_btn.click(
            make_generate(dirs),
            inputs=[portrait, speech, *settings, driving],
            outputs=[aligned_out, plot_out, field_out, video_out, combined_out, info_out],
            api_name="generate",
            concurrency_limit=config.concurrency,
            concurrency_id="generate",
            validator=make_validator(config),
        )
        portrait.change(make_portrait_note(config), inputs=portrait, outputs=portrait_note, api_name="portrait_note",
                        api_visibility="undocumented", queue=False, show_progress="hidden")
        defaults = [s.to_app(s.default) for s in APP_SETTINGS]
        reset_btn.click(lambda: defaults, outputs=settings, api_visibility="private", queue=False)
    return demo
