"""Send a job's log lines to its log file (Snakemake's `log:`) or to stderr."""

import logging
import os

import torch


def start_job(log_path=None, threads=None):
    """Configure logging and torch threads for one workflow job; return the logger."""
    logging.basicConfig(
        filename=log_path,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    if threads:
        torch.set_num_threads(max(1, min(int(threads), os.cpu_count() or 1)))
    return logging.getLogger("quant_fairness")
