"""Workflow rules list exactly the library code their scripts run; cheap modules stay torch-free."""

import subprocess
import sys
from pathlib import Path

from quant_fairness.provenance import library_sources, weights_digest

ROOT = Path(__file__).resolve().parents[1]


def _modules(script):
    """The library modules a workflow script imports, as paths below src/quant_fairness/."""
    package = ROOT / "src/quant_fairness"
    return {str(Path(p).relative_to(package)) for p in library_sources(ROOT / "scripts" / script)}


def test_scoring_depends_on_every_module_it_runs_and_no_other():
    baseline = _modules("evaluate/baseline.py")
    for module in ("evaluate/score.py", "evaluate/divergence.py", "data/batches.py", "data/models.py"):
        assert module in baseline, module
    for module in ("data/corpus.py", "tables.py", "atomic.py", "runlog.py", "data/wheels.py", "errors.py"):
        assert module in baseline, module
    quantized = _modules("quantize/quantize_evaluate.py")
    for module in ("quantize/apply.py", "quantize/quantizers.py", "quantize/calibration.py", "data/layers.py"):
        assert module in quantized, module
    assert "quantize/strategies.py" in quantized and "evaluate/quantized.py" in quantized
    assert not (baseline | quantized) & {"report/figures.py", "report/content.py", "stats/disparity.py", "cli.py"}
    assert not baseline & {"quantize/apply.py", "quantize/quantizers.py"}  # the baseline quantizes nothing


def test_statistics_do_not_depend_on_model_code():
    for script in ("stats/disparity.py", "stats/resource_correlation.py", "stats/claims.py"):
        statistics = _modules(script)
        assert "stats/metrics.py" in statistics and "tables.py" in statistics, script
        assert not statistics & {"evaluate/score.py", "data/models.py", "quantize/quantizers.py", "data/batches.py"}


def test_weights_digest_is_the_file_hash_for_one_shard():
    assert weights_digest(["ab" * 32]) == "ab" * 32
    assert weights_digest(["ab" * 32, "cd" * 32]) != weights_digest(["cd" * 32, "ab" * 32])


def test_config_check_and_report_do_not_import_torch():
    code = "import sys, quant_fairness.config, quant_fairness.report.content; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr
