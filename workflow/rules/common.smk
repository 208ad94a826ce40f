from pathlib import Path

MODELS = config["models"]
STRATEGIES = config["strategies"]
WHEEL_DIR = "resources/wheels"
MODEL_THREADS = config["evaluation"]["threads"]
SPLITS = ["calibration", "selection", "test"]


def library(*modules):
    """Library modules as inputs, so that editing one of them reruns the jobs that use it."""
    return [str(Path(workflow.basedir) / "src/quant_fairness" / f"{module}.py") for module in modules]


def plain_corpus_files(wildcards):
    """A plain-text corpus's files are inputs, so editing them rebuilds the splits."""
    if config["corpus"]["source"] != "plain":
        return []
    return sorted(str(path) for path in Path(config["corpus"]["path"]).iterdir() if path.is_file())
