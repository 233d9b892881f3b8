"""DecentralML core: chain client, keys, content store, configuration and CLI.

Import name ``decentralml.core`` (the top-level ``core/`` directory of the repository).
This package never imports textual, rich or TensorFlow at import time.
"""

__version__ = "0.1.0"
