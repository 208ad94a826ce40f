"""What produced a result: model hashes, and the library code a workflow script runs.

Torch-free, so the Snakefile and the report can use it cheaply.

    library_sources("scripts/score.py")   # the quant_fairness modules it imports, transitively
    read_provenance("resources/models/smollm2-135m")["weights_sha256"]
"""

import ast
import hashlib
import json
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


def _imported_modules(path):
    """quant_fairness module names that the file at `path` imports."""
    names = set()
    for node in ast.walk(ast.parse(Path(path).read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("quant_fairness"):
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names if alias.name.startswith("quant_fairness"))
    return names


def library_sources(script):
    """Sorted paths of the library modules `script` imports, directly or through each other,
    so that a workflow rule can list them as inputs and rerun when one of them changes."""
    found, pending = set(), [Path(script)]
    while pending:
        for name in _imported_modules(pending.pop()):
            parts = name.split(".")[1:]
            path = PACKAGE.joinpath(*parts).with_suffix(".py") if parts else PACKAGE / "__init__.py"
            if path.is_file() and path not in found:
                found.add(path)
                pending.append(path)
    return sorted(str(path) for path in found)
