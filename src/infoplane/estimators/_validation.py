"""Input checks shared by the estimators.

Each check raises ``ValueError`` or ``TypeError`` with a message that names the
parameter, the rule it broke, the value received and what to do instead.
"""

from __future__ import annotations

import numbers

import numpy as np


def check_base(base: float) -> float:
    """Return ``base`` as a float after checking that it is a valid logarithm base."""
    if isinstance(base, bool) or not isinstance(base, numbers.Real):
        raise TypeError(f"base must be a real number greater than 1, got {base!r}")
    base = float(base)
    if not np.isfinite(base) or base <= 1.0:
        raise ValueError(f"base must be a finite number greater than 1 (2 gives bits), got {base}")
    return base


def check_int(value: int, name: str, minimum: int) -> int:
    """Return ``value`` as an int after checking that it is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def check_finite_array(values, name: str, ndim: tuple[int, ...] = (1, 2)) -> np.ndarray:
    """Return ``values`` as a float64 array, rejecting empty, non-finite or wrongly shaped input."""
    array = np.asarray(values)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{name} must be a numeric array, got dtype {array.dtype}")
    if array.ndim not in ndim:
        raise ValueError(f"{name} must have {' or '.join(map(str, ndim))} dimensions, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape}); pass at least one sample")
    array = array.astype(np.float64, copy=False)
    bad = ~np.isfinite(array)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} contains {int(bad.sum())} non-finite values (NaN or inf), the first at index {first}; "
            "remove or replace them before estimating"
        )
    return array


def check_symbol_array(values, name: str, ndim: tuple[int, ...] = (1, 2)) -> np.ndarray:
    """Return ``values`` as an integer array of discrete symbols (non-negative integers).

    Integer arrays keep their dtype (no copy), booleans become uint8, and other input becomes int64. A float array passes only when every value is already a
    non-negative whole number (``1.0``), so no information is lost; any other value raises instead of
    being cast. Torch tensors are moved to the CPU first.
    """
    if hasattr(values, "detach") and hasattr(values, "cpu"):
        values = values.detach().cpu().numpy()
    array = check_finite_array(values, name, ndim) if not _is_integer_dtype(values) else np.asarray(values)
    if array.ndim not in ndim:
        raise ValueError(f"{name} must have {' or '.join(map(str, ndim))} dimensions, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape}); pass at least one sample")

    if np.issubdtype(array.dtype, np.unsignedinteger) or array.dtype == bool:
        invalid = None
    elif np.issubdtype(array.dtype, np.integer):
        invalid = array < 0 if array.min() < 0 else None
    else:
        invalid = (array != np.floor(array)) | (array < 0)
    if invalid is not None and invalid.any():
        first = tuple(int(i) for i in np.argwhere(invalid)[0])
        raise ValueError(
            f"{name} must contain non-negative integers (discrete symbols), but {int(invalid.sum())} values are "
            f"not, the first {array[first]!r} at index {first}; binarize or discretize continuous data first "
            "(for example `(activations > 0).astype(int)`)"
        )
    if array.dtype == bool:
        return array.astype(np.uint8)
    return array if np.issubdtype(array.dtype, np.integer) else array.astype(np.int64)


def _is_integer_dtype(values) -> bool:
    dtype = np.asarray(values).dtype
    return np.issubdtype(dtype, np.integer) or dtype == bool


def check_positive_real(value: float, name: str) -> float:
    """Return ``value`` as a float after checking that it is a finite real number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or value <= 0.0:
        raise ValueError(f"{name} must be finite and > 0, got {value}")
    return value
