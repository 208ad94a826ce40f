"""Workflow rules list exactly the library code their scripts run; cheap modules stay torch-free."""

import subprocess
import sys
from pathlib import Path

from quant_fairness.provenance import library_sources, weights_digest

ROOT = Path(__file__).resolve().parents[1]


def _names(script):
    return {Path(p).name for p in library_sources(ROOT / "scripts" / script)}


def test_scoring_depends_on_every_module_it_runs_and_no_other():
    names = _names("score.py")
    for module in (
        "evaluate.py",
        "models.py",
        "quantize.py",
        "quantizers.py",
        "layers.py",
        "strategies.py",
        "tables.py",
        "corpus.py",
        "atomic.py",
        "runlog.py",
        "wheels.py",
        "errors.py",
    ):
        assert module in names, module
    assert not names & {"figures.py", "report.py", "disparity.py", "cli.py"}


def test_statistics_do_not_depend_on_model_code():
    assert "metrics.py" in _names("disparity.py") and "tables.py" in _names("disparity.py")
    assert not _names("disparity.py") & {"evaluate.py", "models.py", "quantizers.py"}


def test_weights_digest_is_the_file_hash_for_one_shard():
    assert weights_digest(["ab" * 32]) == "ab" * 32
    assert weights_digest(["ab" * 32, "cd" * 32]) != weights_digest(["cd" * 32, "ab" * 32])


def test_config_check_and_report_do_not_import_torch():
    code = "import sys, quant_fairness.config, quant_fairness.report.content; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr
