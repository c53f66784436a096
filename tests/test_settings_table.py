"""One settings table: GenerationSettings' fields, the CLI's options, the manifest's columns and the
app's widgets and API parameters all agree with `frond.config.SETTINGS`."""
from __future__ import annotations

import argparse
import dataclasses
import types
from pathlib import Path

import pytest

from frond.config import APP_SETTINGS, SETTINGS, GenerationSettings

from .conftest import ROOT

# The public API (gradio_client callers use these keywords): changing them breaks scripts.
API_PARAMETERS = ("portrait", "speech", "smoothing", "lip_scale", "head_motion", "blink_rate", "size", "fps", "framing",
                  "seed", "motion", "expression", "driving_video")


def _generate_parser() -> argparse.ArgumentParser:
    from frond.__main__ import build_parser

    sub = next(a for a in build_parser("generate")._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["generate"]


def test_the_table_describes_every_field_once_with_the_dataclass_defaults():
    names = [s.name for s in SETTINGS]
    assert sorted(names) == sorted(f.name for f in dataclasses.fields(GenerationSettings))
    defaults = GenerationSettings()
    for setting in SETTINGS:
        assert setting.default == getattr(defaults, setting.name)
        setting.check(setting.default)
        assert setting.help and setting.label


def test_validation_comes_from_the_table():
    for kwargs, message in [({"size": 300}, "size must be 256 or 512, got 300"),
                            ({"lip_scale": 3.5}, "lip_scale must be within 0..3, got 3.5"),
                            ({"fps": float("nan")}, "fps must be within 1..60"),
                            ({"seed": 2**63}, "seed must be a whole number >= 0"),
                            ({"motion": "fast"}, "motion must be learned or prior, got 'fast'")]:
        with pytest.raises(ValueError, match=message):
            GenerationSettings(**kwargs)


def test_cli_options_are_the_table():
    parser = _generate_parser()
    options = {a.dest: a for a in parser._actions if a.help != argparse.SUPPRESS}  # not the old --full-frame switch
    args = parser.parse_args([])
    assert parser.parse_args(["--full-frame"]).framing == "picture"
    for setting in SETTINGS:
        action = options[setting.name]
        assert action.option_strings == [setting.option]
        assert getattr(args, setting.name) == setting.default
        assert tuple(action.choices or ()) == (setting.choices if setting.kind is not bool else ())
        assert setting.help.split(":")[0] in action.help
    assert {a.dest for a in parser._action_groups[-1]._group_actions} == {s.name for s in SETTINGS}


def test_manifest_columns_are_the_table(tmp_path):
    from frond.manifest import KNOWN, read_manifest

    assert {s.name for s in SETTINGS} <= set(KNOWN)
    manifest = tmp_path / "jobs.csv"
    manifest.write_text("portrait,audio,out,motion,framing,face_index,max_side\np.jpg,a.wav,o.mp4,prior,crop,1,1080\n")
    (job,) = read_manifest(manifest)
    assert job.error is None
    assert (job.settings.motion, job.settings.framing, job.settings.face_index, job.settings.max_side) == ("prior", "crop", 1, 1080)


def test_readme_lists_every_option():
    readme = (ROOT / "README.md").read_text()
    assert [s.option for s in SETTINGS if s.option not in readme] == []


def test_app_api_parameters_and_widgets_are_the_table(tmp_path):
    pytest.importorskip("gradio")
    from frond.app.handlers import settings_from_app
    from frond.app.layout import build_demo
    from frond.app.options import AppConfig

    assert tuple(s.api_name for s in APP_SETTINGS) == API_PARAMETERS[2:-1]
    assert {s.name for s in SETTINGS} - {s.name for s in APP_SETTINGS} == {"face_index", "max_side"}  # the CLI's only
    pipeline = types.SimpleNamespace(modes={"motion": "training-free prior"}, stage_weights={"motion": None},
                                     notices=[], weights_error=None)
    demo = build_demo(AppConfig(examples_dir=Path(tmp_path)), pipeline, [])
    parameters = demo.get_api_info()["named_endpoints"]["/generate"]["parameters"]
    assert tuple(p["parameter_name"] for p in parameters) == API_PARAMETERS
    by_name = {p["parameter_name"]: p for p in parameters}
    for setting in APP_SETTINGS:
        assert by_name[setting.api_name]["parameter_default"] == setting.to_app(setting.default)
        assert by_name[setting.api_name]["label"] == setting.label
    assert settings_from_app({s.api_name: s.to_app(s.default) for s in APP_SETTINGS}) == GenerationSettings()
    assert settings_from_app({"framing": "crop", "seed": None}) == GenerationSettings(framing="crop")
    with pytest.raises(ValueError, match="framing must be picture or crop"):
        settings_from_app({"framing": "wide"})
