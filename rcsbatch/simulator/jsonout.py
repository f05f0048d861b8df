"""JSON writing that keeps money exact: a Decimal becomes a number token with its own digits.

``json.dumps`` cannot write a Decimal as a number without going through float, and the gateway's
answers carry prices such as ``0.0475`` that a client must read back digit for digit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from json.encoder import encode_basestring_ascii
from typing import Any


def dumps(obj: Any) -> str:
    """Serialise JSON-ready values plus Decimals (written as exact number tokens)."""
    out: list[str] = []
    _write(obj, out.append)
    return "".join(out)


def _write(o: Any, emit: Callable[[str], None]) -> None:
    if isinstance(o, str):
        emit(encode_basestring_ascii(o))
    elif o is None:
        emit("null")
    elif o is True:
        emit("true")
    elif o is False:
        emit("false")
    elif isinstance(o, int):
        emit(int.__repr__(o))
    elif isinstance(o, Decimal):
        if not o.is_finite():
            raise ValueError(f"cannot write {o} as JSON")
        emit(format(o, "f"))
    elif isinstance(o, float):
        if not math.isfinite(o):
            raise ValueError(f"cannot write {o} as JSON")
        emit(float.__repr__(o))
    elif isinstance(o, dict):
        emit("{")
        first = True
        for k, v in o.items():
            if not first:
                emit(",")
            first = False
            emit(encode_basestring_ascii(str(k)))
            emit(":")
            _write(v, emit)
        emit("}")
    elif isinstance(o, list | tuple):
        emit("[")
        for i, v in enumerate(o):
            if i:
                emit(",")
            _write(v, emit)
        emit("]")
    else:
        raise TypeError(f"cannot write {type(o).__name__} as JSON")
