"""A job that meets bad input ends with one line naming it, and a non-zero status."""

import os
import subprocess
import sys

from quant_fairness.runlog import COUNT_FLOPS_VARIABLE, FLOPS_LOG_LINE


def test_quant_fairness_error_in_a_job_is_one_line(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(
        "from quant_fairness.runlog import start_job\n"
        "from quant_fairness.data.corpus import common_ids\n"
        f"start_job({str(tmp_path / 'job.log')!r})\n"
        "common_ids({'en': {'1': 'x'}, 'sw': {}})\n"
    )
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr == "quant-fairness: language 'sw' has no text in this corpus\n"
    assert "language 'sw' has no text" in (tmp_path / "job.log").read_text()


def test_other_errors_keep_their_traceback(tmp_path):
    script = tmp_path / "job.py"
    script.write_text("from quant_fairness.runlog import start_job\nstart_job()\n1 / 0\n")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "ZeroDivisionError" in result.stderr


def test_a_counting_job_logs_the_flops_its_linear_layers_ran(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(
        "import torch\n"
        "from quant_fairness.runlog import start_job\n"
        f"start_job({str(tmp_path / 'job.log')!r}, threads=1)\n"
        "layer, other = torch.nn.Linear(4, 3), torch.nn.Conv1d(4, 3, 1)\n"
        "layer(torch.zeros(2, 5, 4)); layer(torch.zeros(1, 4)); other(torch.zeros(1, 4, 5))\n"
    )
    environment = {**os.environ, COUNT_FLOPS_VARIABLE: "1"}
    subprocess.run([sys.executable, str(script)], check=True, env=environment)
    assert (FLOPS_LOG_LINE % (2 * 4 * 3 * 11)) in (tmp_path / "job.log").read_text()
    (tmp_path / "job.log").unlink()
    del environment[COUNT_FLOPS_VARIABLE]
    subprocess.run([sys.executable, str(script)], check=True, env=environment)
    assert "FLOPs" not in (tmp_path / "job.log").read_text()


def test_a_job_logs_its_start_up_from_process_start(tmp_path):
    # Half a second spent before start_job (as imports would) shows in the logged start-up.
    script = tmp_path / "job.py"
    script.write_text(
        "import time\ntime.sleep(0.5)\n"
        "from quant_fairness.runlog import start_job\n"
        f"start_job({str(tmp_path / 'job.log')!r})\n"
    )
    assert subprocess.run([sys.executable, str(script)]).returncode == 0
    line = (tmp_path / "job.log").read_text()
    startup = float(line.split("start-up: ")[1].split(" s ")[0])
    assert 0.5 <= startup < 30
