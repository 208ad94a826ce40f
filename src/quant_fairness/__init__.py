"""quant-fairness: how much worse quantization makes a causal LM for each language.

The package mirrors the workflow (workflow/rules/<stage>.smk runs scripts/<stage>/*.py,
which call quant_fairness.<stage>). Stages, each importing only from those before it:

    data       corpus sources and splits, wheels, model preparation, layer discovery,
               token batches and the per-token NLL of a batch
    quantize   strategies, quantizers, library backends, GPTQ/AWQ, protection masks,
               salience, applying a strategy to a model
    stats      metrics, paired tables, bootstrap, disparity, comparisons, correlation,
               noise floor, claim predicates and claims (tables in, tables out: no model)
    evaluate   scoring segments, the block switch, the layer sweep
    artifacts  packing, the fairness patch, low-rank corrections, sizes, the weight universe
    report     report content, findings, figures, journal, rendering, number formatting

Shared ground below every stage: errors, atomic, tables, provenance, runlog. Above them:
config (validation), plan (what a configuration runs), and the entry points cli and quick.

    from quant_fairness import quick_sweep, simulate_int4     # the seed tool's API (quant_fairness.quick)
    from quant_fairness.data.models import load_model
    from quant_fairness.evaluate.score import TokenizedSplit
"""

import importlib

__version__ = "0.1.0"


def __getattr__(name):
    # Loaded on first use, so that importing a small torch-free module of the package (as the
    # workflow does) neither loads torch nor makes every script depend on the sweep's code.
    if name in ("quick_sweep", "simulate_int4"):
        return getattr(importlib.import_module("quant_fairness.quick"), name)
    raise AttributeError(f"module 'quant_fairness' has no attribute {name!r}")
