"""Time the report: the whole `report` rule (reading the tables, filling in the chapters,
rendering both outputs), then pandoc to HTML and pandoc + Typst to PDF alone on the rule's
filled-in sources; with the page count and the file sizes. Needs a finished run
(`snakemake --cores 2`).

    python benchmarks/report_render.py [--repeat 3]
"""

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from quant_fairness.report.render import render_html, render_pdf

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")


def best_of(repeat, action):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    start = time.perf_counter()
    subprocess.run([SNAKEMAKE, "--cores", "1", "--forcerun", "report", "--quiet"], cwd=ROOT, check=True)
    rule_seconds = time.perf_counter() - start
    report = max((ROOT / "results/report").glob("*/report.html"), key=lambda path: path.stat().st_mtime)
    with tempfile.TemporaryDirectory() as folder:
        source = shutil.copytree(report.parent / "source", Path(folder) / "source")
        html_seconds = best_of(args.repeat, lambda: render_html(source, Path(folder) / "report.html"))
        pdf_seconds = best_of(args.repeat, lambda: render_pdf(source, Path(folder) / "report.pdf"))
    info = subprocess.run(["pdfinfo", report.with_suffix(".pdf")], capture_output=True, text=True).stdout
    print(f"report version {report.parent.name}")
    print(f"| rule `report` (Snakemake, once) | {rule_seconds:.1f} s |")
    print(f"| pandoc -> HTML (best of {args.repeat}) | {html_seconds:.2f} s |")
    print(f"| pandoc + Typst -> PDF (best of {args.repeat}) | {pdf_seconds:.2f} s |")
    print(f"HTML {report.stat().st_size / 1e6:.2f} MB; PDF {report.with_suffix('.pdf').stat().st_size / 1e6:.2f} MB,")
    pages = re.search(r"Pages:\s+(\d+)", info).group(1)
    print(f"{pages} pages")


if __name__ == "__main__":
    main()
