"""vlmrun: evaluate vision-language models, each inside its own pinned container environment."""

__version__ = "0.1.0"
