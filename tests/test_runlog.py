"""A job that meets bad input ends with one line naming it, and a non-zero status."""

import subprocess
import sys


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
