"""Per-job start-up, per rule: what each job pays before its work, read from the job logs of
a run (every job logs its start-up; a job that loads a model logs how long that took).

    python benchmarks/job_startup.py .snakemake/log/<run>.snakemake.log [--markdown]

Start-up is interpreter start, Snakemake's script preamble and the imports, up to the job's
first log line; model load is `load_model` (weights and tokenizer). The Snakemake log maps each
job to its rule and log file; a log appended to by earlier runs counts from its last start-up.
Printed per rule: jobs, summed start-up and model-load seconds, and their share of the rule's
job-seconds (job_seconds.py), most first.
"""

import re
from pathlib import Path

from job_seconds import STARTS, job_seconds, log_arguments

from quant_fairness.runlog import MODEL_LOAD_LOG_LINE, STARTUP_LOG_LINE

LOG = re.compile(r"^\s+log: (.+)$")
STARTUP = re.compile(re.escape(STARTUP_LOG_LINE).replace("%\\.2f", r"([0-9.]+)"))
LOADED = re.compile(re.escape(MODEL_LOAD_LOG_LINE).replace("%s", r"\S+").replace("%\\.2f", r"([0-9.]+)"))


def job_logs(lines):
    """[(rule, log path)] of every job in a Snakemake log."""
    jobs, rule = [], None
    for line in lines:
        if match := STARTS.match(line.rstrip()):
            rule = match.group(1)
        elif (match := LOG.match(line.rstrip())) and rule is not None:
            jobs.append((rule, match.group(1).split(", ")[0]))
            rule = None
    return jobs


def startup_seconds(jobs, workdir="."):
    """{rule: [jobs, start-up seconds, model-load seconds]} from the jobs' own logs."""
    totals = {}
    for rule, log in jobs:
        path = Path(workdir) / log
        text = path.read_text(errors="replace") if path.is_file() else ""
        starts = list(STARTUP.finditer(text))
        latest = text[starts[-1].start() :] if starts else ""
        entry = totals.setdefault(rule, [0, 0.0, 0.0])
        entry[0] += 1
        entry[1] += float(starts[-1].group(1)) if starts else 0.0
        entry[2] += sum(float(m.group(1)) for m in LOADED.finditer(latest))
    return totals


def main():
    args = log_arguments(__doc__)
    lines = Path(args.log).read_text(encoding="utf-8").splitlines()
    totals, durations = startup_seconds(job_logs(lines)), job_seconds(lines)
    rows = sorted(totals.items(), key=lambda item: -(item[1][1] + item[1][2]))
    rows.append(("total", [sum(t[k] for t in totals.values()) for k in range(3)]))
    job_total = {rule: sum(seconds) for rule, seconds in durations.items()}
    job_total["total"] = sum(job_total.values())
    if args.markdown:
        print("| rule | jobs | start-up (s) | model load (s) | share of the rule's job-seconds |")
        print("|---|---:|---:|---:|---:|")
    for rule, (jobs, startup, load) in rows:
        share = f"{(startup + load) / job_total[rule]:.0%}" if job_total.get(rule) else "NA"
        name = f"`{rule}`" if rule != "total" else rule
        print(f"| {name} | {jobs} | {startup:.0f} | {load:.0f} | {share} |" if args.markdown else
              f"{rule:<24}{jobs:>5}{startup:>10.1f}{load:>10.1f}{share:>8}")  # fmt: skip


if __name__ == "__main__":
    main()
