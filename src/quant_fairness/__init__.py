"""quant-fairness: how much worse quantization makes a causal LM for each language.

Entry points:

    from quant_fairness import quick_sweep, simulate_int4     # the seed tool's API (quant_fairness.quick)
    from quant_fairness.models import load_model
    from quant_fairness.evaluate import tokenize_segments, score_segments
"""

import importlib

__version__ = "0.1.0"


def __getattr__(name):
    # Loaded on first use, so that importing a small torch-free module of the package (as the
    # workflow does) neither loads torch nor makes every script depend on the sweep's code.
    if name in ("quick_sweep", "simulate_int4"):
        return getattr(importlib.import_module("quant_fairness.quick"), name)
    raise AttributeError(f"module 'quant_fairness' has no attribute {name!r}")
