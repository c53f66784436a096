#!/usr/bin/env python
"""FROND in the browser: one portrait and some speech in, a lip-synced talking face out.

    python app.py                   # http://127.0.0.1:7860
    python app.py --share           # plus a temporary public link
    python app.py --host 0.0.0.0 --port 8080

The same file is the Hugging Face Space entry point (README front matter:
`sdk: gradio`, `app_file: app.py`). The app itself lives in `frond/app/`: a thin UI over
`frond.FrondPipeline` that builds the pipeline once at start-up, turns the widgets
(one per entry of `frond.config.SETTINGS`) into `GenerationSettings`, shows the
pipeline's outputs side by side, and turns bad input into messages a person can act on.

Settings come from command-line flags, each with an environment variable as its
default (handy on a Space, where there is no command line):

    FROND_HOST, FROND_PORT    where to listen (default: Gradio's, 127.0.0.1:7860, or GRADIO_SERVER_NAME/PORT)
    FROND_WEIGHTS             learned weights: a Hub repo id (optionally "id@revision") or a local folder
    FROND_DEVICE              "auto" (GPU when present), "cpu" or "cuda"
    FROND_MAX_AUDIO_SECONDS   longer speech is refused with a message (default 60)
    FROND_MAX_IMAGE_SIDE      larger portraits are downscaled to this side (default 4096)
    FROND_MAX_UPLOAD          largest upload Gradio accepts, e.g. "50mb"
    FROND_CONCURRENCY         generations running at once (default 1); more wait in the queue
    FROND_QUEUE_SIZE          requests allowed to wait; beyond this the queue says it is full
    FROND_EXAMPLES_DIR        folder whose portraits (*.png, *.jpg) and speech (*.wav, ...) become examples
"""
from frond.app.serve import main

if __name__ == "__main__":
    main()
