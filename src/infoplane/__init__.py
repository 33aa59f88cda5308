"""infoplane: information planes of neural networks while they train.

Transfer entropy (TE) and mutual information (MI) between layers, per recorded
epoch, in bits. See the README for the measures and the command line.

``ActivationRecorder``, ``Trainer`` and ``RunStore`` are imported on first use,
so that ``infoplane.estimators`` alone does not load PyTorch.
"""

import importlib

__version__ = "0.1.0"

_LAZY_EXPORTS = {"ActivationRecorder": "recording", "Trainer": "training", "RunStore": "runs"}
__all__ = sorted(_LAZY_EXPORTS)


def __getattr__(name):
    if name in _LAZY_EXPORTS:
        return getattr(importlib.import_module(f".{_LAZY_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'infoplane' has no attribute {name!r}")
