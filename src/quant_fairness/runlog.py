"""Set up one workflow job: its log file (Snakemake's `log:`), torch threads, and one-line
errors: a QuantFairnessError ends the job with its message, not a traceback. With
QUANT_FAIRNESS_COUNT_FLOPS set (benchmarks/pipeline.sh sets it), a model job also logs the FLOPs
its linear layers ran, for the pipeline's efficiency figure."""

import atexit
import logging
import os
import sys
from pathlib import Path

from quant_fairness.errors import QuantFairnessError

COUNT_FLOPS_VARIABLE = "QUANT_FAIRNESS_COUNT_FLOPS"
FLOPS_LOG_LINE = "linear-layer FLOPs: %d"
STARTUP_LOG_LINE = "start-up: %.2f s from process start (interpreter, Snakemake's preamble, imports)"
MODEL_LOAD_LOG_LINE = "loaded model %s in %.2f s"


def _one_line_errors(kind, error, trace):
    if isinstance(error, QuantFairnessError):
        logging.getLogger("quant_fairness").error("%s", error)
        print(f"quant-fairness: {error}", file=sys.stderr)
        return
    sys.__excepthook__(kind, error, trace)


def seconds_since_process_start():
    """Wall seconds since this process started (Linux /proc, 10 ms ticks), or None elsewhere."""
    try:
        start_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    elapsed = uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    return elapsed if elapsed >= 0 else None  # a container's virtualised uptime can disagree


def start_job(log_path=None, threads=None):
    """Configure logging, errors and torch threads for one workflow job; return the logger."""
    logging.basicConfig(
        filename=log_path,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    sys.excepthook = _one_line_errors
    startup = seconds_since_process_start()
    if startup is not None:
        logging.getLogger("quant_fairness").info(STARTUP_LOG_LINE, startup)
    if threads:
        import torch  # only model jobs pay for importing torch

        torch.set_num_threads(max(1, min(int(threads), os.cpu_count() or 1)))
        if os.environ.get(COUNT_FLOPS_VARIABLE):
            counted, _hook = count_linear_flops()  # counts until the process ends
            atexit.register(lambda: logging.getLogger("quant_fairness").info(FLOPS_LOG_LINE, counted[0]))
    return logging.getLogger("quant_fairness")


def count_linear_flops():
    """([FLOPs so far], hook handle): every forward of an nn.Linear anywhere in the process adds
    2 x in x out per input row (padding rows included): the work the matmul ceiling times."""
    import torch

    counted = [0]

    def count(module, inputs, _output):
        if isinstance(module, torch.nn.Linear) and inputs:  # an input passed by keyword is not counted
            counted[0] += 2 * module.in_features * module.out_features * (inputs[0].numel() // module.in_features)

    return counted, torch.nn.modules.module.register_module_forward_hook(count)
