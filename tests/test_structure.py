"""The package's shape: one folder per paper stage, imports that only point down, no cycle, and an
installed `frond` command that works from any folder."""
from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "frond"
EXAMPLES = ROOT / "examples"

# Lowest first. A module may import from its own layer or any layer below, never above.
LAYERS: list[tuple[str, ...]] = [
    ("frond.errors", "frond.stages", "frond.types", "frond.config", "frond.imaging", "frond.hub", "frond.shutdown",
     "frond.paths", "frond.audio", "frond.media"),
    ("frond.face", "frond.metrics"),  # the face and the measures on its landmarks
    ("frond.nn",),
    ("frond.encoder", "frond.motion", "frond.field", "frond.decoder"),  # the paper's four stages
    ("frond.registry", "frond.weights", "frond.viz", "frond.intermediates", "frond.pipeline"),
    ("frond.evaluate", "frond.train", "frond.manifest", "frond.bench", "frond.bench_app", "frond.contact_sheet",
     "frond.warm", "frond.app", "frond.__main__", "frond"),
]
STAGES = ("frond.encoder", "frond.motion", "frond.field", "frond.decoder")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_lines(tree: ast.AST) -> set[int]:
    """Line numbers inside `if TYPE_CHECKING:` blocks (annotations only: not run)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports() -> dict[str, set[str]]:
    """module -> the frond modules it imports at run time (module level or inside functions)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        skip = _type_checking_lines(tree)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in skip:
                continue
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")
                base = base[: len(base) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else [])) if node.level else node.module or ""
                for alias in node.names:  # `from . import motion` names a module
                    sub = f"{target}.{alias.name}"
                    found.add(sub if sub in modules else target)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def layer_of(module: str) -> int:
    best, depth = -1, -1
    for index, layer in enumerate(LAYERS):
        for prefix in layer:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > depth:
                best, depth = index, len(prefix)
    assert best >= 0, f"{module} is in no layer: add it to LAYERS"
    return best


def test_every_paper_stage_has_one_folder_with_both_variants() -> None:
    assert not list(PACKAGE.glob("models/*.py")) and not list(PACKAGE.glob("render/*.py"))  # dissolved (caches may linger)
    for stage in ("encoder", "motion", "field", "decoder"):
        folder = PACKAGE / stage
        assert (folder / "prior.py").is_file() and (folder / "learned.py").is_file(), stage
    from frond.registry import VARIANTS
    from frond.stages import LEARNED, PRIOR, Stages

    assert list(VARIANTS) == [f.name for f in __import__("dataclasses").fields(Stages)]
    for stage, variants in VARIANTS.items():
        assert set(variants) == {PRIOR, LEARNED}, stage
        assert variants[PRIOR].learned is False and variants[LEARNED].learned is True
        assert variants[PRIOR].__module__ == f"frond.{stage}.prior"
        assert variants[LEARNED].__module__ == f"frond.{stage}.learned"


def test_imports_point_down_and_never_in_a_circle() -> None:
    graph = imports()
    upward = [f"{a} -> {b}" for a, targets in graph.items() for b in targets if layer_of(b) > layer_of(a)]
    assert not upward, "imports from a lower layer into a higher one:\n" + "\n".join(sorted(upward))
    sideways = [f"{a} -> {b}" for a, targets in graph.items() for b in targets
                for s in STAGES for t in STAGES if s != t and a.startswith(s + ".") and b.startswith(t)]
    assert not sideways, "one stage importing another:\n" + "\n".join(sorted(sideways))
    assert not [a for a, t in graph.items() if a.startswith("frond.train") and any(b.startswith("frond.evaluate") for b in t)]

    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                pytest.fail("import cycle: " + " -> ".join(stack[stack.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_the_default_path_never_imports_torch() -> None:
    code = "import sys, frond.pipeline, frond.registry; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


def _installed_command() -> Path:
    command = Path(sys.executable).parent / "frond"
    if not command.exists():
        pytest.fail(f"{command} is missing: ./setup.sh installs the package (pip install -e .)")
    return command


def test_the_frond_command_works_from_any_folder(tmp_path: Path) -> None:
    """`frond` and `python -m frond` from a folder outside the repository, with paths relative to it."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    for argv in ([str(_installed_command()), "generate", "--help"], [sys.executable, "-m", "frond", "--help"]):
        done = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "usage:" in done.stdout
    shutil.copy(EXAMPLES / "grace_hopper.jpg", tmp_path / "me.jpg")
    shutil.copy(EXAMPLES / "speech_2.wav", tmp_path / "me.wav")
    done = subprocess.run([str(_installed_command()), "generate", "--portrait", "me.jpg", "--audio", "me.wav",
                           "--out", "videos/me.mp4", "--quiet"], capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "videos" / "me.mp4").stat().st_size > 10_000


def test_a_built_wheel_carries_the_bundled_weights(tmp_path: Path) -> None:
    """A non-editable install must still find `frond/pretrained/motion` (package data), not fall back to the prior."""
    import zipfile

    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                           "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    wheel = next(tmp_path.glob("frond-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("frond/pretrained/motion/model.safetensors", "frond/pretrained/motion/config.json",
                   "frond/train/speakers.csv", "frond/registry.py"):
        assert needed in names, needed
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "frond = frond.__main__:main" in zipfile.ZipFile(wheel).read(entry).decode()
