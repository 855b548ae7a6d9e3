"""One model load for several jobs of one worker process (`run A.json B.json ...`: one model, several benchmarks).

Inside `loading_once()`, a model class's (or an auto class's) from_pretrained called again with the same arguments
returns the model it loaded before, instead of reading the weights again; each job still builds its own adapter
(processor, prompts and generation settings for its benchmark) around it. One model is kept: a call with other
arguments loads anew and lets the earlier one go."""
from __future__ import annotations

import contextlib

_LOADED: dict = {}
_DEPTH = 0


def _key(cls, path, args, kwargs) -> str:
    return repr((cls.__module__, cls.__qualname__, str(path), args, sorted(kwargs.items(), key=lambda kv: kv[0])))


def _once(orig):
    def from_pretrained(cls, path, *args, **kwargs):
        global _DEPTH
        key = _key(cls, path, args, kwargs)
        if key not in _LOADED:
            if not _DEPTH:  # another model: the earlier one goes (an auto class's inner load keeps the outer's)
                _LOADED.clear()
            _DEPTH += 1
            try:
                model = orig(cls, path, *args, **kwargs)
            finally:
                _DEPTH -= 1
            _LOADED[key] = model
        return _LOADED[key]

    return classmethod(from_pretrained)


@contextlib.contextmanager
def loading_once():
    from transformers import PreTrainedModel
    from transformers.models.auto.auto_factory import _BaseAutoModelClass

    saved = [(c, c.__dict__["from_pretrained"]) for c in (PreTrainedModel, _BaseAutoModelClass)]
    for c, orig in saved:
        c.from_pretrained = _once(orig.__func__)
    try:
        yield
    finally:
        for c, orig in saved:
            c.from_pretrained = orig
        _LOADED.clear()
