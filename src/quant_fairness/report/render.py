"""Render the report: the Quarto chapters of report/ filled in with the run's numbers
(jinja2; nothing executes at render time), then `quarto render` when Quarto is on PATH,
otherwise pandoc to one self-contained HTML file and pandoc + Typst to PDF.

    source = fill_chapters("report", context, figures, "results/report/<version>/source")
    render(source, "results/report/<version>/report.html", "results/report/<version>/report.pdf")
"""

import re
import shutil
import subprocess
from pathlib import Path

import jinja2

from quant_fairness.atomic import atomic_directory, atomic_path
from quant_fairness.errors import QuantFairnessError

MAIN = "report.qmd"
PROJECT_FILES = ("_quarto.yml", "references.bib")
# The pandoc route's stand-ins for what Quarto does itself: cross-references, Typst styling.
CROSSREF_FILTER = "pandoc/crossref.lua"
TABLE_WIDTHS_FILTER = "pandoc/table-widths.lua"
TYPST_HEADERS = ("pandoc/typst-header.typ", "pandoc/typst-tables.typ")
INCLUDE = re.compile(r"^\{\{< include (\S+) >\}\}$", re.MULTILINE)


def breakable(text):
    """`text` with zero-width break opportunities after underscores and brackets, so a narrow
    PDF table column wraps long identifiers such as group_degradation(seed_absmax_int4, low)."""
    return re.sub(r"([_(\[])", "\\1\u200b", str(text))


def fill_chapters(template_dir, context, figures, source_dir):
    """Every .qmd of `template_dir` rendered with `context`, beside the project files and
    `figures` (copied into figures/), written to `source_dir` as a whole or not at all."""
    template_dir, source_dir = Path(template_dir), Path(source_dir)
    # Quarto's {#fig-x} labels start like jinja2's default comments, so comments are {%# #%}.
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        comment_start_string="{%#",
        comment_end_string="#%}",
    )
    environment.filters["breakable"] = breakable
    with atomic_directory(source_dir) as staging:
        for chapter in sorted(template_dir.glob("*.qmd")):
            (staging / chapter.name).write_text(environment.get_template(chapter.name).render(**context))
        for name in PROJECT_FILES:
            shutil.copy(template_dir / name, staging / name)
        shutil.copytree(template_dir / "pandoc", staging / "pandoc")
        (staging / "figures").mkdir()
        for figure in figures:
            shutil.copy(figure, staging / "figures" / Path(figure).name)
    return source_dir


def _markdown(source_dir):
    """The main document with its {{< include >}} chapters inlined, as Quarto would."""
    return INCLUDE.sub(lambda match: (source_dir / match.group(1)).read_text(), (source_dir / MAIN).read_text())


def _pandoc_args(source_dir):
    return [
        "--standalone",
        "--number-sections",
        "--toc",
        f"--lua-filter={source_dir / CROSSREF_FILTER}",  # before citeproc: @fig-x is not a citation
        f"--lua-filter={source_dir / TABLE_WIDTHS_FILTER}",
        "--citeproc",
        f"--bibliography={source_dir / 'references.bib'}",
        "--metadata=link-citations:true",
        f"--resource-path={source_dir}",
    ]


def render_html(source_dir, output):
    """One self-contained HTML file: figures embedded, math as MathML, nothing fetched."""
    import pypandoc

    source_dir = Path(source_dir)
    with atomic_path(output, suffix=".html") as tmp:
        pypandoc.convert_text(
            _markdown(source_dir),
            "html5",
            format="markdown",
            outputfile=str(tmp),
            extra_args=[*_pandoc_args(source_dir), "--embed-resources", "--mathml"],
        )


def render_pdf(source_dir, output):
    """Typst source by pandoc (kept as source/report.typ), compiled by Typst's Python package."""
    import pypandoc
    import typst

    source_dir = Path(source_dir)
    typst_source = source_dir / "report.typ"
    typst_source.write_text(
        pypandoc.convert_text(
            _markdown(source_dir),
            "typst",
            format="markdown",
            extra_args=[
                *_pandoc_args(source_dir),
                *(f"--include-in-header={source_dir / header}" for header in TYPST_HEADERS),
                "--variable=papersize:a4",
            ],
        )
    )
    with atomic_path(output, suffix=".pdf") as tmp:
        typst.compile(str(typst_source), output=str(tmp), root=str(source_dir))


def render_with_quarto(source_dir, html, pdf):
    """`quarto render` of the filled-in project, its outputs moved into place."""
    source_dir = Path(source_dir)
    for target, fmt in ((html, "html"), (pdf, "typst")):
        result = subprocess.run(["quarto", "render", MAIN, "--to", fmt], cwd=source_dir, capture_output=True, text=True)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["no message"])[-1]
            raise QuantFairnessError(
                f"quarto render --to {fmt} failed in {source_dir} (exit {result.returncode}): {last}"
            )
        rendered = source_dir / Path(MAIN).with_suffix(Path(target).suffix).name
        with atomic_path(target, suffix=Path(target).suffix) as tmp:
            shutil.move(rendered, tmp)


def render(source_dir, html, pdf):
    """Quarto when it is installed, the pandoc and Typst route otherwise; returns which ran."""
    if shutil.which("quarto"):
        render_with_quarto(source_dir, html, pdf)
        return "quarto"
    render_html(source_dir, html)
    render_pdf(source_dir, pdf)
    return "pandoc"


def renderer_versions():
    """The tools `render` will use, with their versions, for the provenance chapter: Quarto
    (which brings its own pandoc and Typst) where it is installed, else pandoc and Typst."""
    if shutil.which("quarto"):
        return {"quarto": subprocess.run(["quarto", "--version"], capture_output=True, text=True).stdout.strip()}
    import pypandoc
    import typst

    return {"pandoc": pypandoc.get_pandoc_version(), "typst (Python)": getattr(typst, "__version__", "unknown")}
