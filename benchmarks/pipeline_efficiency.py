"""Pipeline efficiency: the FLOPs the model jobs' linear layers ran, divided by (wall time x the
machine's matmul ceiling for each model's shapes). The jobs log their FLOPs when
QUANT_FAIRNESS_COUNT_FLOPS is set, which benchmarks/pipeline.sh does:

    python benchmarks/pipeline_efficiency.py --wall SECONDS [--logs logs] [--threads 2]

Every forward pass counts (scoring, the bf16 noise floor, sweeps, calibration, salience,
artifact scoring), padding rows included; the ceiling is the linear layers (LM head included)
as plain 1024-row fp32 matmuls (evaluator_throughput.matmul_ceiling). A job is charged to the
model named in its log's path.
"""

import argparse
import re
from pathlib import Path

import torch
from evaluator_throughput import matmul_ceiling

from quant_fairness.data.models import load_model
from quant_fairness.runlog import COUNT_FLOPS_VARIABLE, FLOPS_LOG_LINE

COUNTED = re.compile(re.escape(FLOPS_LOG_LINE).replace("%d", r"(\d+)"))


def logged_flops(logs):
    """{model folder name or None: FLOPs} summed over the job logs under `logs`."""
    models = {path.name for path in Path("resources/models").iterdir()}
    flops = {}
    for log in sorted(Path(logs).rglob("*.log")):
        counted = [int(match.group(1)) for match in COUNTED.finditer(log.read_text(errors="replace"))]
        if counted:
            # logs/baseline/<model>_numerics.log names its model with a suffix
            parts = log.with_suffix("").parts
            owner = next((m for m in sorted(models) if any(p == m or p.startswith(f"{m}_") for p in parts)), None)
            flops[owner] = flops.get(owner, 0) + sum(counted)
    return flops


def ceiling_flops_per_second(model_name):
    model, _ = load_model(f"resources/models/{model_name}")
    flops_per_token = 2 * sum(m.in_features * m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear))
    return matmul_ceiling(model) * flops_per_token


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wall", type=float, required=True, help="the clean run's wall seconds")
    parser.add_argument("--logs", default="logs")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    flops = logged_flops(args.logs)
    ceilings = {name: ceiling_flops_per_second(name) for name in flops if name is not None}
    if not ceilings:
        raise SystemExit(f"no job log under {args.logs}/ names a model and its FLOPs: was {COUNT_FLOPS_VARIABLE} set?")
    # A job no model is named for is charged at the fastest ceiling: its efficiency is not overstated.
    fastest = max(ceilings.values())
    print("| model | linear-layer TFLOP | ceiling GFLOP/s | seconds at the ceiling |\n|---|---:|---:|---:|")
    ideal = 0.0
    for name, total in sorted(flops.items(), key=lambda item: str(item[0])):
        ceiling = ceilings.get(name, fastest)
        ideal += total / ceiling
        label = name or "(no model in the log path)"
        print(f"| {label} | {total / 1e12:.2f} | {ceiling / 1e9:.1f} | {total / ceiling:.0f} |")
    print(f"\npipeline efficiency: {ideal:.0f} s at the ceiling / {args.wall:.0f} s wall = {ideal / args.wall:.1%}")


if __name__ == "__main__":
    main()
