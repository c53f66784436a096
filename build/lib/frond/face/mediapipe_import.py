"""Import MediaPipe's face detection and face mesh without the parts of MediaPipe they do not use.

`import mediapipe` runs every solution's module, the Tasks API (with its audio stack) and
`drawing_utils`, which imports matplotlib's pyplot: about 1 s of a 2-core machine's time
before the first face is found, most of it for drawing we never do. Here those modules are
registered *deferred*: each is a module object whose code runs the first time one of its
names is used (PEP 562 `__getattr__`), so code that does use them (`mp.solutions.drawing_utils`,
`mp.tasks.vision`) still works, and only pays for them then.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType

DEFERRED = (  # (module, file under the mediapipe package, is a package)
    ("mediapipe.python.solutions.drawing_utils", "python/solutions/drawing_utils.py", False),
    ("mediapipe.python.solutions.drawing_styles", "python/solutions/drawing_styles.py", False),
    ("mediapipe.tasks", "tasks/__init__.py", True),
    ("mediapipe.tasks.python", "tasks/python/__init__.py", True),
)


def _defer(name: str, path: str, package: bool) -> ModuleType:
    """Register module `name` from `path` without running it; its first missing name runs it."""
    spec = importlib.util.spec_from_file_location(name, path,
                                                  submodule_search_locations=[os.path.dirname(path)] if package else None)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    loader = spec.loader

    def load(attr: str):
        del module.__getattr__
        loader.exec_module(module)
        return getattr(module, attr)

    setattr(module, "__getattr__", load)  # noqa: B010 - a module's __getattr__, set on the instance
    sys.modules[name] = module
    return module


def face_solutions() -> tuple[ModuleType, ModuleType]:
    """(mediapipe.python.solutions.face_detection, ...face_mesh), importing no more than they need."""
    if "mediapipe" not in sys.modules:
        spec = importlib.util.find_spec("mediapipe")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("mediapipe is not installed: pip install mediapipe==0.10.21")
        root = spec.submodule_search_locations[0]
        deferred = {name: _defer(name, os.path.join(root, rel), package) for name, rel, package in DEFERRED}
        setattr(deferred["mediapipe.tasks"], "python", deferred["mediapipe.tasks.python"])  # noqa: B010
        import mediapipe.python.solutions  # noqa: F401 - runs mediapipe's __init__ with the deferred parts in place

        for name, module in deferred.items():  # what a normal import would have set on the parents
            parent, _, child = name.rpartition(".")
            vars(sys.modules[parent]).setdefault(child, module)  # (mediapipe's own `tasks` is tasks.python: kept)
    from mediapipe.python.solutions import face_detection, face_mesh

    return face_detection, face_mesh
