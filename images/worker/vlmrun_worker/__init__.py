"""The in-container side of vlmrun: datasets, model adapters, the ranks' launcher and entry point.

Mounted read-only at run time (never baked into an image). Modules other than run.py, adapters/* and tiny/*
import neither torch nor transformers, so the host's tests can exercise them directly.
"""
