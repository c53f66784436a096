"""The input widgets: one per setting of `frond.config.APP_SETTINGS`, whose values the settings table
judges (not the widget), and the portrait's image widget, whose uploads FROND's own reader judges.

Both change a Gradio component's behaviour with an instance attribute, not a subclass: Gradio
writes a .pyi stub next to any file that defines a Component subclass.
"""
from __future__ import annotations

from typing import Any

import gradio as gr

from ..config import Setting


def setting_widget(setting: Setting) -> gr.components.Component:
    """The widget the table names for one setting, at its default, labelled, with its help as info."""
    common: dict[str, Any] = dict(value=setting.to_app(setting.default), label=setting.label, info=setting.help,
                                  elem_id=setting.api_name)
    if setting.widget == "slider":
        low, high = setting.slider or (setting.low, setting.high)
        assert low is not None and high is not None, f"the slider {setting.name} needs ends"
        widget: gr.components.Component = gr.Slider(low, high, step=setting.step, **common)
    elif setting.widget == "radio":
        values = setting.app_values or setting.choices
        labels = setting.choice_labels or tuple(str(v) for v in values)
        widget = gr.Radio(list(zip(labels, values)), **common)
    elif setting.widget == "number":
        widget = gr.Number(precision=0 if setting.kind is int else None, minimum=setting.low, maximum=setting.high,
                           **common)
    else:
        raise ValueError(f"{setting.name}: unknown widget {setting.widget!r}")
    return judged_by_the_table(widget, setting)


def judged_by_the_table(widget: gr.components.Component, setting: Setting) -> gr.components.Component:
    """Let the settings table judge what reaches `widget` (through the API, anything can).

    A widget's own check (a slider's ends, a radio's choices) runs before the validator and refuses
    with an HTTP 400 that names no field ("Value -3 is less than minimum value 0."), and a radio
    refuses "256", the string form its API page documents for 256. Here what the widget cannot take
    goes on as it came; the validator (and `generate`) read it with `Setting.from_app` and refuse
    a bad one with the CLI's message on its own field. The API page documents the table's range.
    """
    original = widget.preprocess

    def preprocess(payload: Any) -> Any:
        try:
            return original(payload)
        except Exception:  # noqa: BLE001 - the table says what is wrong with it
            return payload

    widget.preprocess = preprocess  # type: ignore[method-assign]
    if not setting.choices:
        kind = "integer" if setting.kind is int else "number"
        widget.api_info = lambda: {"type": kind, "description": setting.valid_text}  # type: ignore[method-assign]
    return widget


def friendly_image_errors(component: gr.Image) -> gr.Image:
    """Let FROND's own reader judge an upload that PIL cannot open.

    gr.Image opens the upload with PIL before our functions run, and a failure there would
    surface as an unexplained error (before the validator, even). Instead the raw upload's
    path goes on, and `load_image` refuses it with its message ("Could not read ... as an
    image ...").
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
