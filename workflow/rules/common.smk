from pathlib import Path

from quant_fairness.corpus import SPLITS, plain_files
from quant_fairness.provenance import library_sources

MODELS = config["models"]
STRATEGIES = config["strategies"]
WHEEL_DIR = "resources/wheels"
MODEL_THREADS = config["evaluation"]["threads"]


def library(script):
    """The library modules `script` runs, as inputs: editing one of them reruns its jobs."""
    return library_sources(Path(workflow.basedir) / "scripts" / script)


def plain_corpus_files(wildcards):
    """A plain-text corpus's files are inputs, so editing them rebuilds the splits."""
    if config["corpus"]["source"] != "plain":
        return []
    return [str(path) for path in plain_files(config["corpus"]["path"], config["languages"]).values()]


def local_model_files(wildcards):
    """A local model folder's files are inputs, so replacing the model re-prepares it."""
    local = config["model_sources"][wildcards.model].get("local")
    if local is None:
        return []
    return sorted(str(path) for path in Path(local).iterdir() if path.is_file())
