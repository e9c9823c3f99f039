"""Argument types shared by the command groups: a bad value is refused by argparse with one
line naming the option, instead of being rounded or ignored further down."""
from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def natural_int(text: str) -> int:
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number (0 or more)")
    return int(text)


def positive_float(text: str) -> float:
    value = _float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def fraction(text: str) -> float:
    value = _float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a fraction between 0 and 1")
    return value


def int_list(text: str) -> tuple[int, ...]:
    """``1,2,3``: whole numbers only (``1.5`` is refused, not truncated)."""
    values = tuple(x.strip() for x in text.split(",") if x.strip())
    if not values or not all(v.isdigit() for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated whole numbers, e.g. 1,2,3")
    return tuple(int(v) for v in values)


def positive_float_list(text: str) -> tuple[float, ...]:
    """``1e-3,5e-3``; empty gives ()."""
    return tuple(positive_float(x) for x in text.split(",") if x.strip())


def name_list(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
