"""Argument checks: a wrong argument fails where it is given, naming itself, instead of surfacing later as a shape
error deep inside torch. A ground-floor module: it imports nothing else of tsdiff (nor torch)."""
from __future__ import annotations

import numbers


def positive_int(value, name: str) -> int:
    """``value`` as an int; TypeError unless an integer (bools refused), ValueError unless >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def optional_positive_int(value, name: str) -> int | None:
    """None, or :func:`positive_int`."""
    return None if value is None else positive_int(value, name)


def _real_in(value, name: str, inside, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not inside(value):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return float(value)


def dropout_rate(value, name: str) -> float:
    """A probability of dropping a unit: a number in [0, 1)."""
    return _real_in(value, name, lambda v: 0.0 <= v < 1.0, "a number in [0, 1)")


def positive_float(value, name: str) -> float:
    """A finite number > 0 (learning rates, scales)."""
    return _real_in(value, name, lambda v: 0.0 < v < float("inf"), "a positive number")


def non_negative_float(value, name: str) -> float:
    """A finite number >= 0 (weight decay)."""
    return _real_in(value, name, lambda v: 0.0 <= v < float("inf"), "a non-negative number")


def one_of(value, name: str, choices) -> object:
    """``value`` if it is one of ``choices``; ValueError listing them otherwise."""
    if value not in tuple(choices):
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def seed(value, name: str = "seed") -> int:
    """An integer seed (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    return int(value)
