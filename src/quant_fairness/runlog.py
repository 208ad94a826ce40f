"""Set up one workflow job: its log file (Snakemake's `log:`), torch threads, and one-line
errors: a QuantFairnessError ends the job with its message, not a traceback."""

import logging
import os
import sys

from quant_fairness.errors import QuantFairnessError


def _one_line_errors(kind, error, trace):
    if isinstance(error, QuantFairnessError):
        logging.getLogger("quant_fairness").error("%s", error)
        print(f"quant-fairness: {error}", file=sys.stderr)
        return
    sys.__excepthook__(kind, error, trace)


def start_job(log_path=None, threads=None):
    """Configure logging, errors and torch threads for one workflow job; return the logger."""
    logging.basicConfig(
        filename=log_path,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    sys.excepthook = _one_line_errors
    if threads:
        import torch  # only model jobs pay for importing torch

        torch.set_num_threads(max(1, min(int(threads), os.cpu_count() or 1)))
    return logging.getLogger("quant_fairness")
