"""What a method module in ``methods/`` gets to work with, and how the workflow finds and runs methods.

* :mod:`.api` — :class:`UnlearningTask`, the one argument of every method's ``unlearn``;
* :mod:`.toolkit` — the shared pieces methods are built from (optimisers, schedules, losses);
* :mod:`.registry` — discovery of the modules in ``methods/``;
* :mod:`.runner` — runs one method on one forget class and records ok or failed.
"""

__all__ = ["LoopTimer", "UnlearningTask"]


def __getattr__(name: str):
    # Lazy, so that the Snakefile can read the method registry without importing PyTorch.
    if name in __all__:
        from . import api

        return getattr(api, name)
    raise AttributeError(name)
