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
