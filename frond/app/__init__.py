"""The Gradio app: a thin UI over `frond.FrondPipeline` (`app.py` at the repository root starts it).

- `options.py`: `AppConfig`, from command-line flags and environment variables
- `runtime.py`: the pipeline built once and warmed in the background, the GPU call (ZeroGPU on
  a Hugging Face Space), per-request output folders
- `handlers.py`: what the page's events run: the validator before the queue, `generate`
- `describe.py`: what the page says ran: in plain words, each stage one click away; the run's summary
- `widgets.py`: the input widgets: one per setting of `frond.config.SETTINGS` (judged by the table), the portrait
- `layout.py`: the page: inputs, Generate and its status, the result panels, the events
- `serve.py`: `main()`: flags -> pipeline -> page -> launch
"""
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no phone-home: starting must not wait on the network
