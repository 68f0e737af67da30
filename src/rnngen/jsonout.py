"""JSON as rnngen prints it: strict, so any parser reads it.

NaN and Infinity are not JSON (Python writes them, a browser's JSON.parse and most
other parsers refuse them). A number that is not finite (a diverged loss, a
perplexity that overflows, bits computed from a huge loss) is written as null.
"""
import json
import math

import numpy as np


def finite(value):
    """value with every float that is not finite replaced by None, through dicts,
    lists and tuples (tuples become lists, as JSON has them); NumPy scalars and
    arrays become plain numbers and lists."""
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.ndarray):
        return finite(value.tolist())
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def dumps(value, **options):
    """json.dumps of finite(value), refusing any NaN or Infinity left (there are none)."""
    return json.dumps(finite(value), allow_nan=False, **options)
