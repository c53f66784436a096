"""The Hugging Face Hub, offline-aware: never let start-up wait on network retries."""
from __future__ import annotations

import os
import socket
import threading
import urllib.parse
from pathlib import Path

TRUE = {"1", "true", "yes", "on"}


def hub_reachable(timeout: float = 2.0) -> bool:
    """Can we open a TCP connection to the Hub (or the HTTPS proxy) within `timeout` seconds?"""
    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    url = urllib.parse.urlparse(proxy or os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host, port = url.hostname, url.port or (443 if url.scheme == "https" else 80)
    if not host:
        return False
    answer: list[bool] = []

    def probe() -> None:  # in a thread: name resolution has no timeout of its own
        try:
            with socket.create_connection((host, port), timeout=timeout):
                answer.append(True)
        except OSError:
            answer.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(answer and answer[0])


def go_offline_if_hub_unreachable(weights: str | None) -> str | None:
    """Weights named by Hub id while offline: use the local cache only (HF_HUB_OFFLINE).

    Returns a notice when it switched, else None.
    """
    if not weights or os.environ.get("HF_HUB_OFFLINE", "").lower() in TRUE:
        return None
    if Path(weights.split("@", 1)[0]).expanduser().is_dir() or hub_reachable():
        return None
    import huggingface_hub.constants

    os.environ["HF_HUB_OFFLINE"] = "1"
    huggingface_hub.constants.HF_HUB_OFFLINE = True  # read at import time: set the live flag too
    return "The Hugging Face Hub cannot be reached: looking for the weights in the local cache only."


WEIGHT_FILES = ("config.json", "model.safetensors")  # what a FROND weights folder (or Hub repo) holds


def weights_folder(weights: str) -> Path:
    """A local folder, or a Hub repo id[@revision] fetched (or found in the cache) -> the local folder
    holding config.json and model.safetensors. Safetensors only: no pickle is ever fetched.

    Raises FrondInputError (one line, with what to do) when it cannot.
    """
    from .errors import FrondInputError

    weights = str(weights).strip()
    if not weights:
        raise FrondInputError("no weights given: pass a local folder or a Hub repo id[@revision]")
    folder = Path(weights).expanduser()
    if folder.is_dir():
        missing = [f for f in WEIGHT_FILES if not (folder / f).is_file()]
        if missing:
            raise FrondInputError(f"weights folder {folder} lacks {', '.join(missing)}: train with "
                                  "`python -m frond train --out DIR` or pass a Hub repo id")
        return folder
    repo, _, revision = weights.partition("@")
    if repo.count("/") != 1 or repo.startswith(("/", ".", "~")):
        raise FrondInputError(f"weights {weights!r} are neither a local folder nor a Hub repo id of the form "
                              "owner/name[@revision]")
    offline = go_offline_if_hub_unreachable(weights) is not None or os.environ.get("HF_HUB_OFFLINE", "").lower() in TRUE
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo, revision=revision or None, allow_patterns=list(WEIGHT_FILES) + ["README.md"]))
    except Exception as exc:  # noqa: BLE001 - offline, not found, gated: say which, in one line
        if offline:
            raise FrondInputError(f"FROND weights {weights!r}: the Hugging Face Hub cannot be reached and they are "
                                  "not in the local cache. Connect once, or pass a local folder.") from None
        first = (str(exc).splitlines() or [""])[0][:160]
        raise FrondInputError(f"could not get FROND weights {weights!r} from the Hugging Face Hub "
                              f"({type(exc).__name__}: {first}).") from None
