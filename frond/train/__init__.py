"""Data preparation and training of the learned FROND stages.

- `prepare.prepare_videos`: talking-face videos -> clips (crops, landmarks, audio).
- `trainer.train(TrainConfig)`: the render and motion stages (DDP under torchrun).
- `heldout`: held-out reconstruction PSNR/SSIM and trajectory errors.
- `cli.register(subparsers)`: the `prepare` and `train` commands.
"""
