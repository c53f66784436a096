"""Fit the shipped (or any) motion weights' facing gain on the clips they were trained on, into their
config.json (`frond.train.trainer.refit_head_facing`): weights trained before the fit existed.

    python scripts/refit_facing.py --data PREPARED frond/pretrained/motion
"""
from __future__ import annotations

import argparse

from frond.train.data import load_prepared
from frond.train.speakers import load_speakers
from frond.train.trainer import refit_head_facing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", help="a weights folder (config.json + model.safetensors)")
    parser.add_argument("--data", required=True, help="the `frond prepare` output the weights were trained on")
    args = parser.parse_args()
    table = load_speakers()
    clips = [c for c in load_prepared(args.data) if table.usable(c.name)]
    print(f"{len(clips)} clips:", refit_head_facing(args.weights, clips))


if __name__ == "__main__":
    main()
