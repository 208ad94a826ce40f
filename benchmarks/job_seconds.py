"""Job-seconds per rule from a Snakemake log: each job's start ("[date]" then "rule X:" or
"localrule X:" with its "jobid:") to its "Finished jobid: N" line.

    python benchmarks/job_seconds.py .snakemake/log/<run>.snakemake.log [--markdown]

Prints, per rule, its jobs, their summed wall seconds and the largest one, most first, and the
total; jobs that ran side by side (light jobs on --cores 2) each count their own seconds.
"""

import argparse
import re
from datetime import datetime

STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
STARTS = re.compile(r"^(?:local)?rule (\w+):$")
JOBID = re.compile(r"^\s+jobid: (\d+)$")
FINISHED = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)$")


def job_seconds(lines):
    """{rule: [seconds of each job]} from the lines of a Snakemake log."""
    moment, rule, started, durations = None, None, {}, {}
    for line in lines:
        if match := STAMP.match(line.rstrip()):
            moment = datetime.strptime(match.group(1), "%a %b %d %H:%M:%S %Y")
        elif match := STARTS.match(line.rstrip()):
            rule = (match.group(1), moment)
        elif (match := JOBID.match(line.rstrip())) and rule is not None:
            started[match.group(1)] = rule
            rule = None
        elif match := FINISHED.match(line.rstrip()):
            name, began = started.pop(match.group(1), (match.group(2), moment))
            durations.setdefault(name, []).append((moment - began).total_seconds())
    return durations


def log_arguments(doc):
    """The command line of a script that reads a Snakemake log: the log, and --markdown."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("log")
    parser.add_argument("--markdown", action="store_true", help="a Markdown table for benchmarks/README.md")
    return parser.parse_args()


def main():
    args = log_arguments(__doc__)
    with open(args.log, encoding="utf-8") as handle:
        durations = job_seconds(handle)
    rows = sorted(durations.items(), key=lambda item: -sum(item[1]))
    total = sum(sum(seconds) for seconds in durations.values())
    if args.markdown:
        print("| rule | jobs | job-seconds | longest job (s) |\n|---|---:|---:|---:|")
        for rule, seconds in rows:
            print(f"| `{rule}` | {len(seconds)} | {sum(seconds):.0f} | {max(seconds):.0f} |")
        print(f"| total | {sum(len(s) for s in durations.values())} | {total:.0f} | |")
        return
    for rule, seconds in rows:
        print(f"{rule:<24}{len(seconds):>5}{sum(seconds):>10.0f}{max(seconds):>8.0f}")
    print(f"{'total':<24}{sum(len(s) for s in durations.values()):>5}{total:>10.0f}")


if __name__ == "__main__":
    main()
