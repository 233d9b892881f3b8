"""DecentralML core: chain client, keys, content store, configuration and CLI.

The import name ``decentralml.core`` IS this folder, ``core/`` (setuptools ``package-dir`` in
pyproject.toml; ``decentralml.tui`` is ``tui/``). Layout and import rules: docs/architecture.md.
This package never imports textual, rich or TensorFlow at import time.
"""

__version__ = "0.1.0"
