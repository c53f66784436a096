"""`main()`: flags -> the pipeline (built before serving) -> the page -> launch."""
from __future__ import annotations

import logging
import os
import sys

from . import runtime  # first: it imports ZeroGPU's `spaces` before anything can import torch

import gradio as gr

from ..hub import go_offline_if_hub_unreachable
from ..shutdown import stop_like_interrupt
from .describe import describe_path
from .layout import CSS, build_demo
from .options import parse_args


def main(argv: list[str] | None = None) -> None:
    config = parse_args(argv)
    stop_like_interrupt()  # SIGTERM (docker stop, a Space restart) and SIGHUP shut down like Ctrl+C: temporary files go
    logging.basicConfig(level=logging.INFO if config.verbose else logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("frond").setLevel(logging.INFO)  # ours: start-up and model timings; third parties' only with --verbose
    if config.verbose:
        os.environ["FROND_VERBOSE"] = "1"
    offline = go_offline_if_hub_unreachable(config.weights)
    pipeline = runtime.get_pipeline(config)  # before serving: the page answers only once the pipeline is ready
    notices = ([offline] if offline else []) + list(pipeline.notices)
    for notice in notices:
        print(f"[frond] {notice}", file=sys.stderr)
    print(f"[frond] path: {describe_path(pipeline.stage_weights)}", file=sys.stderr)
    runtime.warm_up_in_background(pipeline)
    demo = build_demo(config, pipeline, notices)
    demo.queue(default_concurrency_limit=config.concurrency, max_size=config.queue_size)
    allowed = [str(config.examples_dir)] if config.examples_dir.is_dir() else []
    demo.launch(
        server_name=config.host,
        server_port=config.port,
        share=config.share,
        allowed_paths=allowed,
        max_file_size=config.max_upload,
        footer_links=["api", "gradio"],
        ssr_mode=False,
        theme=gr.themes.Soft(),
        css=CSS,
    )
