"""What produced a result: model hashes, and the library code a workflow script runs.

Torch-free, so the Snakefile and the report can use it cheaply.

    library_sources("scripts/evaluate/score.py")   # the quant_fairness modules it imports, transitively
    read_provenance("resources/models/smollm2-135m")["weights_sha256"]
    report_version(".", config)                    # git describe + config hash: the report's folder
"""

import ast
import hashlib
import json
import subprocess
from pathlib import Path

PROVENANCE = "provenance.json"
PACKAGE = Path(__file__).resolve().parent


def weights_digest(shard_digests):
    """One hash for the weights: the file's own SHA-256, or a hash over the sorted shards' hashes."""
    if len(shard_digests) == 1:
        return shard_digests[0]
    return hashlib.sha256("".join(shard_digests).encode()).hexdigest()


def read_provenance(model_dir):
    return json.loads((Path(model_dir) / PROVENANCE).read_text())


def imported_modules(path):
    """quant_fairness module names that the file at `path` imports."""
    names = set()
    for node in ast.walk(ast.parse(Path(path).read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("quant_fairness"):
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names if alias.name.startswith("quant_fairness"))
    return names


def _module_path(parts):
    """The file of module quant_fairness.<parts> (a module or a package's __init__.py), or None
    for a name that is no module (a function or class imported from one)."""
    if not parts:
        return PACKAGE / "__init__.py"
    for path in (PACKAGE.joinpath(*parts).with_suffix(".py"), PACKAGE.joinpath(*parts, "__init__.py")):
        if path.is_file():
            return path
    return None


def library_sources(script):
    """Sorted paths of the library modules `script` imports, directly or through each other,
    so that a workflow rule can list them as inputs and rerun when one of them changes."""
    found, pending = set(), [Path(script)]
    while pending:
        for name in imported_modules(pending.pop()):
            path = _module_path(name.split(".")[1:])
            if path is not None and path not in found:
                found.add(path)
                pending.append(path)
    return sorted(str(path) for path in found)


def git_version(root):
    try:
        result = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"], cwd=root, capture_output=True, text=True
        )
    except OSError:  # no git on this machine
        return "unversioned"
    return result.stdout.strip() or "unversioned"


def config_hash(config):
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]


def report_version(root, config):
    """The report's folder name: the code's git version and the configuration's hash, so a new
    commit or another config renders a new report beside the old ones."""
    return f"{git_version(root)}-{config_hash(config)}"
