"""`python -m frond generate --manifest`: many videos, one warm pipeline, failures reported, reruns skip."""
from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest

from frond.config import GenerationSettings
from frond.errors import FrondInputError
from frond.manifest import read_manifest, shard
from frond.media import probe_video

from .conftest import EXAMPLES, run_cli, voiced, write_wav


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    """A folder with a portrait and two short clips, where the manifests live too (relative paths)."""
    folder = tmp_path_factory.mktemp("batch")
    shutil.copyfile(EXAMPLES / "grace_hopper.jpg", folder / "hopper.jpg")
    write_wav(folder / "a.wav", voiced(0.6, seed=1))
    write_wav(folder / "b.wav", voiced(0.8, seed=2))
    return folder


def test_csv_lines_become_jobs(tmp_path):
    manifest = tmp_path / "jobs.csv"
    manifest.write_text("portrait,audio,out,size,framing,seed\n"
                        "# a comment line\n"
                        "p.jpg,a.wav,out/one.mp4,512,crop,3\n"
                        "p.jpg,a.wav,out/two.mp4,,,\n"
                        "p.jpg,a.wav,out/three.mp4,300,,\n"
                        "p.jpg,a.wav,out/one.mp4,,,\n"
                        "p.jpg,,out/four.mp4,,,\n")
    jobs = read_manifest(manifest, GenerationSettings(fps=30))
    assert [j.number for j in jobs] == [3, 4, 5, 6, 7]
    one, two, three, again, no_audio = jobs
    assert one.error is None and one.out == tmp_path / "out" / "one.mp4" and one.portrait == tmp_path / "p.jpg"
    assert (one.settings.size, one.settings.framing, one.settings.seed, one.settings.fps) == (512, "crop", 3, 30)
    assert two.settings == GenerationSettings(fps=30)  # empty cells: the command line's values
    assert "size must be 256 or 512" in three.error
    assert "also written by line 3" in again.error
    assert "no audio given" in no_audio.error


def test_jsonl_lines_and_unusable_manifests(tmp_path):
    manifest = tmp_path / "jobs.jsonl"
    manifest.write_text('{"portrait": "p.jpg", "audio": "a.wav", "out": "x.mp4", "lip_scale": 1.5}\n'
                        '{"portrait": "p.jpg", "audio": "a.wav", "out": "y.mp4", "lipscale": 1.5}\n'
                        '{"portrait": "p.jpg", "audio"\n'
                        '\n'
                        '["not", "an", "object"]\n')
    ok, typo, broken, array = read_manifest(manifest)
    assert ok.error is None and ok.settings.lip_scale == 1.5
    assert "unknown key(s) lipscale" in typo.error
    assert "not valid JSON" in broken.error and broken.number == 3
    assert "expected a JSON object" in array.error
    bad_header = tmp_path / "bad.csv"
    bad_header.write_text("image,audio,out\nx,y,z\n")
    with pytest.raises(FrondInputError, match="unknown column"):
        read_manifest(bad_header)
    with pytest.raises(FrondInputError, match="not found"):
        read_manifest(tmp_path / "missing.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("portrait,audio,out\n")
    with pytest.raises(FrondInputError, match="lists no videos"):
        read_manifest(empty)


def test_shards_split_a_manifest_between_processes(tmp_path):
    manifest = tmp_path / "jobs.csv"
    manifest.write_text("portrait,audio,out\n" + "".join(f"p.jpg,a.wav,{i}.mp4\n" for i in range(10)))
    jobs = read_manifest(manifest)
    parts = [shard(jobs, f"{i}/3") for i in range(3)]
    assert sorted(j.number for part in parts for j in part) == [j.number for j in jobs]
    assert [j.out.name for j in parts[1]] == ["1.mp4", "4.mp4", "7.mp4"]
    for spec in ("3/3", "-1/3", "a/b", "1"):
        with pytest.raises(FrondInputError, match="--shard"):
            shard(jobs, spec)


def test_manifest_run_reports_failures_goes_on_and_reruns_skip(media):
    manifest = media / "run.csv"
    manifest.write_text("portrait,audio,out,fps\n"
                        "hopper.jpg,a.wav,out/1.mp4,\n"
                        "missing.jpg,a.wav,out/2.mp4,\n"
                        "hopper.jpg,b.wav,out/3.mp4,12\n"
                        "hopper.jpg,a.wav,out/4.mp4,100\n"
                        "hopper.jpg,a.wav,hopper.jpg,\n")
    done = run_cli("generate", "--manifest", str(manifest), "--quiet")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 3, done.stderr
    assert "line 3" in errors[0] and "portrait not found" in errors[0].lower()
    assert "line 5" in errors[1] and "fps must be within" in errors[1]
    assert "line 6" in errors[2] and "would destroy the input" in errors[2]
    assert re.search(r"\[3/5\] written .*out/3\.mp4", done.stdout), done.stdout
    assert "5 videos: 2 written, 0 skipped, 3 failed" in done.stdout
    assert probe_video(media / "out" / "1.mp4")["frames"] == 15
    assert probe_video(media / "out" / "3.mp4")["fps"] == 12
    assert not (media / "out" / "2.mp4").exists() and not list((media / "out").glob(".*"))
    stamps = {p: p.stat().st_mtime_ns for p in (media / "out").glob("*.mp4")}

    started = time.perf_counter()
    again = run_cli("generate", "--manifest", str(manifest), "--quiet")
    assert again.returncode == 2
    assert "5 videos: 0 written, 2 skipped, 3 failed" in again.stdout, again.stdout
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps, "a finished video was redone"
    assert time.perf_counter() - started < 30


def test_overhead_per_video_is_small(media):
    """Overhead = the command's whole wall time minus the videos' own generation times, per video."""
    count = 8
    manifest = media / "many.jsonl"
    manifest.write_text("".join(json.dumps({"portrait": "hopper.jpg", "audio": "a.wav" if i % 2 else "b.wav",
                                            "out": f"many/{i}.mp4", "seed": i}) + "\n" for i in range(count)))
    started = time.perf_counter()
    done = run_cli("generate", "--manifest", str(manifest), "--quiet")
    wall = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    assert f"{count} videos: {count} written" in done.stdout
    generating = float(re.search(r"([\d.]+) s generating", done.stdout).group(1))
    overhead = (wall - generating) / count
    print(f"wall {wall:.2f} s, generating {generating:.2f} s, overhead {overhead:.3f} s per video")
    assert overhead < 0.5, done.stdout


def test_weights_that_cannot_load_stop_a_manifest_at_once(media, tmp_path):
    manifest = media / "weights.csv"
    manifest.write_text("portrait,audio,out\nhopper.jpg,a.wav,weights/1.mp4\nhopper.jpg,b.wav,weights/2.mp4\n")
    done = run_cli("generate", "--manifest", str(manifest), "--weights", str(tmp_path / "no_weights"), "--quiet")
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "--weights" in errors[0], done.stderr
    assert not (media / "weights").exists()
