"""Wall time of the tiny workflow (tests/tiny_config.yaml) run locally and through a real
single-node Slurm cluster on this machine (profiles/slurm), each from an empty folder.

    sudo apt-get install slurm-wlm munge                      # and run as root
    pip install --no-deps --target .slurm-plugin snakemake-executor-plugin-slurm==2.8.0 \
        snakemake-executor-plugin-slurm-jobstep==0.6.1        # or pip install -e ".[slurm]"
    python benchmarks/slurm_workflow.py

Prints both wall times, the number of Slurm jobs, and whether every result file is
byte-identical between the two runs.
"""

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from slurm_cluster import SlurmCluster, missing_slurm, node_resources  # noqa: E402
from test_workflow import result_digests, slurm_plugin_path, snakemake, tiny_workdir  # noqa: E402


def timed(work, *args, env=None):
    started = time.perf_counter()
    result = snakemake(work, *args, env=env)
    if result.returncode != 0:
        raise SystemExit(result.stderr[-3000:])
    return time.perf_counter() - started


def main():
    plugin = slurm_plugin_path()
    reason = missing_slurm() or (plugin is None and "snakemake-executor-plugin-slurm is not installed")
    if reason:
        raise SystemExit(reason)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        local = timed(tiny_workdir(scratch / "local"))
        with SlurmCluster(scratch / "slurm") as cluster:
            env = {**cluster.env, "PYTHONPATH": os.pathsep.join(filter(None, [plugin, os.environ.get("PYTHONPATH")]))}
            through_slurm = timed(
                tiny_workdir(scratch / "cluster"),
                "--profile", str(ROOT / "profiles/slurm"),
                "--max-threads", str(node_resources()[0]),
                "--slurm-init-seconds-before-status-checks", "1",
                "--seconds-between-status-checks", "2",
                env=env,
            )  # fmt: skip
            jobs = len(cluster.jobs())
        same = result_digests(scratch / "local") == result_digests(scratch / "cluster")
    print(f"local (--cores 2):          {local:7.1f} s")
    print(f"Slurm (profiles/slurm):     {through_slurm:7.1f} s  ({jobs} Slurm jobs)")
    print(f"results byte-identical:     {same}")


if __name__ == "__main__":
    main()
