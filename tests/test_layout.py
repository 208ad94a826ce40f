"""The library mirrors the workflow: one package per stage, each importing only from the
shared ground and the stages below it, never upward and never in a circle (issue 17)."""

import ast
from pathlib import Path

import pytest

from quant_fairness.provenance import imported_modules

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src/quant_fairness"
# Bottom to top: a stage may import from the ones before it.
STAGES = ("data", "quantize", "stats", "evaluate", "artifacts", "report")
GROUND = {"errors", "atomic", "tables", "provenance", "runlog"}
# Top-level modules above the ground: each may import what it needs, and a stage may import
# one of them only if everything it reaches lies below that stage.
TOP = {"config", "plan", "cli", "quick"}


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def library_graph():
    """{module: modules it imports}, over the package's own modules."""
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {
        name: {found for found in imported_modules(path) if found in modules and found != name}
        for name, path in modules.items()
    }


def unit(module):
    """What a module belongs to: a stage, "ground", a top-level module's own name, or the package."""
    parts = module.split(".")
    if len(parts) == 1:
        return "package"
    if parts[1] in STAGES:
        return parts[1]
    return "ground" if parts[1] in GROUND else parts[1]


def reached_stages(module, graph, seen=None):
    seen = set() if seen is None else seen
    stages = set()
    for target in graph[module] - seen:
        seen.add(target)
        if unit(target) in STAGES:
            stages.add(unit(target))
        stages |= reached_stages(target, graph, seen)
    return stages


def test_every_module_belongs_to_a_stage_or_the_top():
    graph = library_graph()
    loose = sorted(m for m in graph if unit(m) not in {*STAGES, "ground", "package", *TOP})
    assert not loose, f"modules outside any stage, ground or entry point: {loose}"
    for stage in STAGES:
        docstring = ast.get_docstring(ast.parse((PACKAGE / stage / "__init__.py").read_text()))
        assert docstring and "May import" in docstring, f"quant_fairness.{stage} says not what it may import"


def test_the_ground_imports_no_stage():
    graph = library_graph()
    for module, targets in graph.items():
        if unit(module) == "ground":
            upward = sorted(t for t in targets if unit(t) != "ground")
            assert not upward, f"{module} (shared ground) imports {upward}"


def test_no_stage_imports_a_stage_above_it():
    graph = library_graph()
    for module, targets in graph.items():
        if unit(module) not in STAGES:
            continue
        level = STAGES.index(unit(module))
        for target in targets:
            kind = unit(target)
            above = {kind} if kind in STAGES else reached_stages(target, graph) if kind in TOP else set()
            upward = sorted(stage for stage in above if STAGES.index(stage) > level)
            assert not upward, f"{module} imports {target}, which is (or reaches) the later stage(s) {upward}"


def test_stage_packages_import_each_other_in_no_circle():
    graph = library_graph()
    between = {stage: set() for stage in STAGES}
    for module, targets in graph.items():
        for target in targets:
            if unit(module) in STAGES and unit(target) in STAGES and unit(module) != unit(target):
                between[unit(module)].add(unit(target))

    def visit(stage, path):
        if stage in path:
            pytest.fail(f"stages import each other in a circle: {' -> '.join([*path, stage])}")
        for target in between[stage]:
            visit(target, [*path, stage])

    for stage in STAGES:
        visit(stage, [])


def test_the_checker_sees_an_upward_import(tmp_path, monkeypatch):
    """The walk is real: a data module that imports the report is caught."""
    package = tmp_path / "quant_fairness"
    for stage in STAGES:
        (package / stage).mkdir(parents=True)
        (package / stage / "__init__.py").write_text('"""May import: below."""\n')
    (package / "report" / "content.py").write_text("")
    (package / "data" / "corpus.py").write_text("from quant_fairness.report.content import x\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", package)
    with pytest.raises(AssertionError, match="later stage"):
        test_no_stage_imports_a_stage_above_it()


def test_each_rule_module_has_its_scripts_and_package():
    """workflow/rules/<stage>.smk runs scripts/<stage>/*.py, which import quant_fairness.<stage>."""
    for stage in STAGES:
        rules = (ROOT / "workflow/rules" / f"{stage}.smk").read_text()
        scripts = sorted((ROOT / "scripts" / stage).glob("*.py"))
        assert scripts, f"scripts/{stage}/ is empty"
        for script in scripts:
            assert f"scripts/{stage}/{script.name}" in rules, f"{script} is run by no rule of {stage}.smk"
    stray = [path.name for path in (ROOT / "scripts").glob("*.py")]
    assert not stray, f"scripts outside a stage folder: {stray}"
