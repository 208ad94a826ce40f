"""Per-job start-up, per rule: what each job pays before its work, read from the job logs of
a run (every job logs its start-up; a job that loads a model logs how long that took).

    python benchmarks/job_startup.py .snakemake/log/<run>.snakemake.log [--markdown]

Start-up is interpreter start, Snakemake's script preamble and the imports, up to the job's
first log line; model load is `load_model` (weights and tokenizer). The Snakemake log maps each
job to its rule and log file. Printed per rule: jobs, summed start-up and model-load seconds,
their share of the rule's job-seconds (job_seconds.py), most first.
"""

import argparse
import re
from pathlib import Path

from job_seconds import job_seconds

from quant_fairness.data.models import MODEL_LOAD_LOG_LINE
from quant_fairness.runlog import STARTUP_LOG_LINE

STARTS = re.compile(r"^(?:local)?rule (\w+):$")
LOG = re.compile(r"^\s+log: (\S+)$")
STARTUP = re.compile(re.escape(STARTUP_LOG_LINE).replace("%\\.2f", r"([0-9.]+)"))
LOADED = re.compile(re.escape(MODEL_LOAD_LOG_LINE).replace("%s", r"\S+").replace("%\\.2f", r"([0-9.]+)"))


def job_logs(lines):
    """[(rule, log path)] of every job in a Snakemake log."""
    jobs, rule = [], None
    for line in lines:
        if match := STARTS.match(line.rstrip()):
            rule = match.group(1)
        elif (match := LOG.match(line.rstrip())) and rule is not None:
            jobs.append((rule, match.group(1).split(",")[0]))
            rule = None
    return jobs


def startup_seconds(jobs, workdir="."):
    """{rule: [jobs, start-up seconds, model-load seconds]} from the jobs' own logs."""
    totals = {}
    for rule, log in jobs:
        path = Path(workdir) / log
        text = path.read_text(errors="replace") if path.is_file() else ""
        entry = totals.setdefault(rule, [0, 0.0, 0.0])
        entry[0] += 1
        entry[1] += sum(float(m.group(1)) for m in STARTUP.finditer(text))
        entry[2] += sum(float(m.group(1)) for m in LOADED.finditer(text))
    return totals


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("log")
    parser.add_argument("--markdown", action="store_true", help="a Markdown table for benchmarks/README.md")
    args = parser.parse_args()
    lines = Path(args.log).read_text(encoding="utf-8").splitlines()
    totals, durations = startup_seconds(job_logs(lines)), job_seconds(lines)
    rows = sorted(totals.items(), key=lambda item: -(item[1][1] + item[1][2]))
    all_jobs = sum(sum(seconds) for seconds in durations.values())
    startup, load = sum(t[1] for t in totals.values()), sum(t[2] for t in totals.values())
    if args.markdown:
        print("| rule | jobs | start-up (s) | model load (s) | share of the rule's job-seconds |")
        print("|---|---:|---:|---:|---:|")
    for rule, (jobs, up, loaded) in rows:
        share = (up + loaded) / sum(durations.get(rule, [0])) if sum(durations.get(rule, [0])) else float("nan")
        if args.markdown:
            print(f"| `{rule}` | {jobs} | {up:.0f} | {loaded:.0f} | {share:.0%} |")
        else:
            print(f"{rule:<24}{jobs:>5}{up:>10.1f}{loaded:>10.1f}{share:>8.0%}")
    share = (startup + load) / all_jobs if all_jobs else float("nan")
    if args.markdown:
        print(f"| total | {sum(t[0] for t in totals.values())} | {startup:.0f} | {load:.0f} | {share:.0%} |")
    else:
        print(f"{'total':<24}{sum(t[0] for t in totals.values()):>5}{startup:>10.1f}{load:>10.1f}{share:>8.0%}")


if __name__ == "__main__":
    main()
