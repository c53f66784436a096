"""Command line: python -m frond generate|prepare|train|evaluate|bench|contact-sheet."""
from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import time
from pathlib import Path

from .config import (IMAGE_PIXELS_CEILING, LANDMARK_BACKENDS, MIN_IMAGE_PIXELS_LIMIT, PICTURE, SETTINGS, GenerationSettings,
                     Limits)
from .errors import FrondInputError
from .shutdown import stop_like_interrupt

os.environ.setdefault("GLOG_minloglevel", "2")  # keep MediaPipe's start-up chatter off the terminal
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
STARTED = time.perf_counter()


class _Parser(argparse.ArgumentParser):
    """argparse, with its complaints as one `error:` line that says where the help is (exit status 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"error: {message}. See `{self.prog} --help`.", file=sys.stderr)
        sys.exit(2)


def _finite(text: str) -> float:
    """argparse type: a finite number (nan and inf are refused with the option's name)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def _positive_seconds(text: str) -> float:
    value = _finite(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, got {text!r}")
    return value


def _pixel_limit(text: str) -> int:
    """argparse type: a number of pixels a limit may be (1e8 and 100000000 alike)."""
    value = _finite(text)
    if not MIN_IMAGE_PIXELS_LIMIT <= value <= IMAGE_PIXELS_CEILING:
        raise argparse.ArgumentTypeError(f"must be a number of pixels within {MIN_IMAGE_PIXELS_LIMIT}..{IMAGE_PIXELS_CEILING}, "
                                         f"got {text!r}")
    return int(value)


def _add_generate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="portrait + speech -> talking-face MP4 (or many, from a manifest)",
                       description="Turn one portrait and one speech clip into a lip-synchronised talking-face video "
                                   "(H.264 + AAC MP4), or every line of a --manifest with one warm pipeline. Runs offline "
                                   "with the bundled learned motion and the training-free render stages unless --weights says otherwise.")
    p.add_argument("--portrait", type=Path, help="image with a face (PNG, JPEG, WebP, ...)")
    p.add_argument("--audio", type=Path, help="speech recording (WAV, MP3, M4A/AAC, OGG, FLAC, WebM), any rate")
    p.add_argument("--driving-video", type=Path, metavar="CLIP",
                   help="instead of --audio: a video of a face whose motion, relative to its first frame, drives the "
                        "portrait (reenactment); its soundtrack is the output's (none: a silent output)")
    p.add_argument("--out", type=Path, help="output video, e.g. out.mp4 (written atomically)")
    p.add_argument("--manifest", type=Path, help="CSV or JSONL: one video per line (portrait, audio, out and optional "
                                                 "settings; the options here are the defaults); outputs that exist are skipped")
    p.add_argument("--shard", metavar="I/N", help="with --manifest: only every N-th line from the I-th (0-based), e.g. "
                                                  "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT")
    p.add_argument("--overwrite", action="store_true", help="with --manifest: redo outputs that exist")
    _add_settings(p)
    p.add_argument("--save-intermediates", type=Path, metavar="DIR", help="also write keypoints.npz, trajectories.png, motion_field.mp4, overlay.mp4 (and aligned.png, side_by_side.mp4) to DIR")
    p.add_argument("--weights", help="learned FROND weights: a Hub repo id[@revision] or a local folder (default: the bundled motion network, training-free render); "
                                     "weights that cannot be loaded are an error")
    p.add_argument("--landmarks", choices=LANDMARK_BACKENDS, default="auto", help="landmark backend (default: FAN if its weights are cached, else MediaPipe)")
    p.add_argument("--max-audio-seconds", type=_positive_seconds, default=Limits().max_audio_seconds, help="refuse longer audio (default %(default)s)")
    p.add_argument("--max-image-pixels", type=_pixel_limit, default=Limits().max_image_pixels,
                   help="refuse portraits with more pixels, from their header, before decoding (default %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log details, third-party libraries' too")
    p.set_defaults(func=_generate)


def _add_settings(p: argparse.ArgumentParser) -> None:
    """One option per generation setting, from the settings table (`frond.config.SETTINGS`)."""
    group = p.add_argument_group("generation settings", "the app's widgets (--face-index, --max-side: here only); a manifest's "
                                                        "columns of the same names (lip_scale, ...) override them per video")
    for setting in SETTINGS:
        text = setting.help.replace("%", "%%")
        if setting.kind is bool:  # a switch: off unless given
            assert setting.default is False, setting.name
            off = setting.choice_labels[0].lower() if setting.choice_labels else "off"
            group.add_argument(setting.option, action="store_true", help=f"{text} (default: {off})")
            continue
        group.add_argument(setting.option, type=_finite if setting.kind is float else setting.kind,
                           choices=setting.choices or None, default=setting.default,
                           help=f"{text} ({setting.range_text}; default %(default)s)")
    # the switch before the framing setting; the whole picture is its default now, so it asks for the default
    group.add_argument("--full-frame", dest="framing", action="store_const", const=PICTURE, help=argparse.SUPPRESS)


def _settings(args: argparse.Namespace) -> tuple[GenerationSettings, Limits]:
    try:
        settings = GenerationSettings(**{setting.name: getattr(args, setting.name) for setting in SETTINGS})
        limits = Limits(max_audio_seconds=args.max_audio_seconds, max_image_pixels=args.max_image_pixels)
    except ValueError as exc:
        message = str(exc)
        named = next((s for s in SETTINGS if message.startswith(f"{s.name} must")), None)
        if named is not None:  # the option as it was typed
            message = named.option + message[len(named.name):]
        raise FrondInputError(f"{message}. See `python -m frond generate --help` for each option's range.") from None
    return settings, limits


def _check_request(args: argparse.Namespace, limits: Limits) -> None:
    """Which mode, and are its paths usable? Checked before anything is loaded."""
    from .media import open_image
    from .paths import check_paths

    single = [name for name in ("portrait", "audio", "out") if getattr(args, name) is not None]
    if args.driving_video is not None:
        single.append("driving-video")
    if args.manifest is not None:
        if single or args.save_intermediates is not None:
            raise FrondInputError("--manifest names the portrait, audio, out (and save_intermediates) of every video: "
                                  f"leave out --{', --'.join(single or ['save-intermediates'])}.")
        return
    if args.shard or args.overwrite:
        raise FrondInputError("--shard and --overwrite go with --manifest.")
    if args.audio is not None and args.driving_video is not None:
        raise FrondInputError("--audio and --driving-video both given: a driving video brings its own soundtrack. "
                              "Leave out one of them.")
    driver = ("driving_video", "Driving video") if args.driving_video is not None else ("audio", "Audio")
    missing = [f"--{name}" for name in ("portrait", driver[0], "out") if getattr(args, name) is None]
    if missing:
        raise FrondInputError(f"{', '.join(missing)} missing: give --portrait IMAGE --audio AUDIO --out OUT.mp4 "
                              "(or --driving-video CLIP instead of --audio), or --manifest FILE for many videos.")
    for path, what in ((args.portrait, "Portrait"), (getattr(args, driver[0]), driver[1])):
        if not path.is_file():
            raise FrondInputError(f"{what} not found: {path}. Check the path" + (" (it is a folder)." if path.is_dir() else "."))
    open_image(args.portrait, limits).close()  # its header only: an image bomb is refused before anything loads
    check_paths(args.out, (args.portrait, args.audio, args.driving_video), args.save_intermediates)


def _start_phones(audio: Path, limits: Limits) -> None:
    """Decode the speech and hand it to the phone helper before the pipeline is imported: the helper
    starts, imports its recogniser and decodes on the other core meanwhile (the pipeline's own request
    for the same samples gets this one's answer). Bad audio is refused here, early."""
    from .audio.phone_worker import PhoneWorker

    worker = PhoneWorker.shared()
    worker.start()  # first: its imports overlap with ours from here on
    from .media import load_audio

    worker.submit(load_audio(audio, limits).samples)


def _prefetch_phones(audio: Path | None, limits: Limits) -> None:
    """`_start_phones` for a manifest's next video; a problem with its audio is reported when its turn comes."""
    if audio is None:  # a line in error: nothing to prefetch
        return
    try:
        _start_phones(audio, limits)
    except FrondInputError:
        pass


def _pipeline(args: argparse.Namespace, limits: Limits):
    from .pipeline import FrondPipeline

    pipe = FrondPipeline(limits=limits, weights=args.weights, landmarks=args.landmarks)
    if args.weights and pipe.weights_error:
        pipe.close()
        raise FrondInputError(f"--weights {args.weights}: {pipe.weights_error.rstrip('.')}. Check the folder or Hub id, "
                              "or leave --weights out to use the bundled stages.")
    for notice in pipe.notices:
        print(f"note: {notice}", file=sys.stderr)
    return pipe


def _progress_bar(quiet: bool, prefix: str = ""):
    """A tqdm bar in percent and the pipeline's progress callback that drives it."""
    from tqdm import tqdm

    bar = tqdm(total=100, unit="%", disable=quiet, bar_format="{l_bar}{bar}| {elapsed}<{remaining}", leave=False)

    def progress(fraction: float, stage: str) -> None:
        bar.set_description((prefix + stage)[:48])
        bar.update(round(fraction * 100) - bar.n)

    return bar, progress


def _generate(args: argparse.Namespace) -> int:
    settings, limits = _settings(args)
    _check_request(args, limits)
    if args.manifest is not None:
        return _generate_manifest(args, settings, limits)
    if args.audio is not None:
        _start_phones(args.audio, limits)
    pipe = _pipeline(args, limits)
    bar, progress = _progress_bar(args.quiet)
    try:
        result = pipe.generate(args.portrait, args.audio, args.out, settings, args.save_intermediates, progress,
                               driving_video=args.driving_video)
    finally:
        bar.close()
        pipe.close()
    for notice in result.notices[len(pipe.notices):]:
        print(f"note: {notice}", file=sys.stderr)
    modes = ", ".join(f"{k}: {v}" for k, v in result.modes.items())
    print(f"wrote {result.video_path} ({result.n_frames} frames, {result.duration:.2f} s, {result.width}x{result.height}) [{modes}]")
    print(f"motion: {result.motion.source}")
    return 0


def _generate_manifest(args: argparse.Namespace, settings: GenerationSettings, limits: Limits) -> int:
    from .manifest import Outcome, read_manifest, run_jobs, shard

    jobs = shard(read_manifest(args.manifest, settings), args.shard)
    total = len(jobs)
    to_render = [job.error is None and (args.overwrite or not (job.out and job.out.exists())) for job in jobs]
    if any(to_render):
        _prefetch_phones(jobs[to_render.index(True)].audio, limits)
    pipe = _pipeline(args, limits) if any(to_render) else None  # a rerun with every output done loads nothing
    following: list[int | None] = [None] * total  # the next job to render after each
    for k in range(total - 2, -1, -1):
        following[k] = k + 1 if to_render[k + 1] else following[k + 1]

    def generate(i: int, job):
        after = following[i]
        if after is not None:  # its phones are recognised by the helper while this one renders
            _prefetch_phones(jobs[after].audio, limits)
        bar, progress = _progress_bar(args.quiet, f"[{i + 1}/{total}] ")
        assert pipe is not None  # built whenever a job is to render
        try:
            return pipe.generate(job.portrait, job.audio, job.out, job.settings, job.intermediates, progress)
        finally:
            bar.close()

    counts = {"written": 0, "skipped": 0, "failed": 0}

    def report(i: int, outcome: Outcome) -> None:
        counts[outcome.status] += 1
        tally = f"{counts['written']} written, {counts['skipped']} skipped, {counts['failed']} failed"
        if outcome.status == "failed":
            print(f"error: [{i + 1}/{total}] {outcome.job.label}: {outcome.message}", file=sys.stderr, flush=True)
        else:
            print(f"[{i + 1}/{total}] {outcome.status} {outcome.message} in {outcome.seconds:.2f} s | {tally}", flush=True)

    try:
        outcomes = run_jobs(generate, jobs, overwrite=args.overwrite, report=report)
    finally:
        if pipe is not None:
            pipe.close()
    wall = time.perf_counter() - STARTED
    generation = sum(o.generation_seconds for o in outcomes)
    print(f"manifest: {total} videos: {counts['written']} written, {counts['skipped']} skipped, {counts['failed']} failed; "
          f"{wall:.2f} s in all, {generation:.2f} s generating; overhead {(wall - generation) / max(total, 1):.3f} s per video "
          f"(start-up included)")
    if any(o.internal for o in outcomes):
        return 1
    return 2 if counts["failed"] else 0


def _add_bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="speed and memory benchmark (ratios to real time and to the machine's ceiling)",
                       description="Time the pipeline end to end and per stage on synthetic speech and a bundled portrait, "
                                   "beside the machine's ceiling (bicubic remap + x264 veryfast per frame); the CLI's "
                                   "first answer for a 1 s clip and its fps on a 22.5 s clip; peak memory; the app's cold start.")
    p.add_argument("--seconds", type=_positive_seconds, default=10.0, help="length of the timed clip (default %(default)s)")
    p.add_argument("--long-seconds", type=_positive_seconds, default=60.0, help="length of the long clip for the memory check (default %(default)s)")
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 512], choices=(256, 512), help="crop sizes to time (default 256 512)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per size; the best is reported (default %(default)s)")
    p.add_argument("--skip-memory", action="store_true", help="skip the peak-memory runs")
    p.add_argument("--skip-app", action="store_true", help="skip the app cold-start measurement")
    p.add_argument("--skip-cli", action="store_true", help="skip the CLI first-answer and 22.5 s-clip runs")
    p.add_argument("--skip-picture", action="store_true", help="skip the whole-picture row (the default framing at 720 px)")
    p.set_defaults(func=lambda args: __import__("frond.bench", fromlist=["main"]).main(args))


def _command(argv: list[str]) -> str | None:
    """The subcommand named in argv, if any (the first word that is not an option)."""
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `command` ("generate", "bench") the other subcommands' modules are not imported."""
    parser = _Parser(prog="python -m frond", description="FROND talking-face generation.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details, third-party libraries' too")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_generate(sub)
    if command not in ("generate", "bench"):  # their modules (torch for training) only when another command is asked for
        from .contact_sheet import register as contact_sheet
        from .evaluate.cli import register as evaluate
        from .train.cli import register as train

        for register in (train, evaluate, contact_sheet):
            register(sub)
    _add_bench(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    stop_like_interrupt()
    parser = build_parser(_command(argv))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.verbose:
        os.environ["FROND_VERBOSE"] = "1"  # third-party native log lines too (frond.face.landmarks.quiet_native_logs)
    try:
        return int(args.func(args) or 0)
    except FrondInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(f"stopped ({exc})" if str(exc) else "interrupted", file=sys.stderr)
        return getattr(exc, "exit_status", 130)
    except MemoryError:
        print("error: out of memory. Try --size 256, shorter audio, or close other programs.", file=sys.stderr)
        return 1
    except OSError as exc:  # the disk filled up, a file vanished mid-run, ...: what and where, not a traceback
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}. Free some disk space or choose another --out, then run again.",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
