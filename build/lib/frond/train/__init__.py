"""Data preparation and training of the learned FROND stages.

- `prepare.prepare_videos`: talking-face videos -> clips (JPEG frame shards, landmarks, audio, manifest),
  in worker processes, each video decoded once.
- `split.split_clips`: held-out speakers (or the end of each clip).
- `trainer.train(TrainConfig)`: the render and motion stages (DDP under torchrun: `distributed`).
- `perceptual`, `mouth_gan`, `augment`, `schedule`: the render stage's VGG19 loss, mouth discriminator,
  pair augmentation, and the resumable learning-rate schedule.
- `heldout`: held-out reconstruction PSNR/SSIM and trajectory errors.
- `bench.benchmark`: the learned model's speed (training steps/s, inference frames/s, bf16 on a GPU).
- `cli.register(subparsers)`: the `prepare`, `train` and `push` commands.
"""
