"""Render the report: the Quarto chapters of report/ filled in with the run's numbers
(jinja2; nothing executes at render time), then `quarto render` when Quarto is on PATH,
otherwise pandoc to one self-contained HTML file and pandoc + Typst to PDF, with the settings
of the project's _quarto.yml.

    source = fill_chapters("report", context, figures, "results/report/<version>/source")
    render(source, "results/report/<version>/report.html", "results/report/<version>/report.pdf")
"""

import re
import shutil
import subprocess
from pathlib import Path

import jinja2
import yaml

from quant_fairness.atomic import atomic_directory, atomic_path
from quant_fairness.errors import QuantFairnessError

MAIN = "report.qmd"
PROJECT = "_quarto.yml"
PROJECT_FILES = (PROJECT, "references.bib")
# The pandoc route's stand-ins for what Quarto does itself: cross-references, Typst figure
# numbering, the sidebar's current-section mark.
CROSSREF_FILTER = "pandoc/crossref.lua"
TYPST_HEADER = "pandoc/typst-header.typ"
SIDEBAR_SCRIPT = "pandoc/sidebar.html"
# The _quarto.yml settings the pandoc route follows; any other is refused rather than ignored, so
# the two routes cannot drift apart unnoticed.
PANDOC_SETTINGS = {"bibliography", "link-citations", "number-sections", "toc", "toc-depth", "filters", "format"}
FORMAT_SETTINGS = {
    "html": {"embed-resources", "html-math-method", "css"},
    "typst": {"papersize", "fontsize", "margin", "include-in-header"},
}
# Settings only Quarto acts on, and what the pandoc route does instead.
QUARTO_ONLY = {
    "project": "renders report.qmd",
    "format.html.toc-location": "report.css puts the contents in a sidebar on wide windows",
    "format.typst.citeproc": "always runs citeproc",
}
# Typst template variables pandoc takes as document metadata (a margin is a mapping, which
# --variable cannot pass).
TYPST_METADATA = ("fontsize", "margin")
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


def _markdown(source_dir, metadata=None):
    """The main document with its {{< include >}} chapters inlined, as Quarto would, after a
    metadata block of `metadata` where given."""
    text = INCLUDE.sub(lambda match: (source_dir / match.group(1)).read_text(), (source_dir / MAIN).read_text())
    if metadata:
        text = f"---\n{yaml.safe_dump(metadata)}---\n\n{text}"
    return text


def project_settings(source_dir):
    """The _quarto.yml of `source_dir`, refused if it holds a setting the pandoc route cannot follow."""
    settings = yaml.safe_load((Path(source_dir) / PROJECT).read_text())
    keys = [key for key in settings if key != "format"] + [
        f"format.{fmt}.{key}" for fmt, options in settings["format"].items() for key in options
    ]
    followed = PANDOC_SETTINGS | {f"format.{fmt}.{key}" for fmt, keys in FORMAT_SETTINGS.items() for key in keys}
    unknown = sorted(key for key in keys if key not in followed and key not in QUARTO_ONLY)
    if settings["format"]["html"].get("html-math-method", "mathml") != "mathml":
        unknown.append("format.html.html-math-method other than mathml (the only self-contained one)")
    if unknown:
        raise QuantFairnessError(
            f"{PROJECT}: the pandoc route does not follow {', '.join(unknown)}; "
            f"it follows {sorted(followed)}, and leaves {sorted(QUARTO_ONLY)} to Quarto"
        )
    return settings


def pandoc_args(source_dir, fmt):
    """pandoc's arguments for `fmt` (html or typst) from the project's _quarto.yml, plus the
    stand-ins for what Quarto does itself."""
    source_dir = Path(source_dir)
    settings = project_settings(source_dir)
    options = settings["format"][fmt]
    args = ["--standalone", f"--resource-path={source_dir}"]
    if settings.get("number-sections"):
        args.append("--number-sections")
    if settings.get("toc"):
        args += ["--toc", f"--toc-depth={settings.get('toc-depth', 3)}"]
    args += [f"--lua-filter={source_dir / name}" for name in settings.get("filters", [])]
    # After the project's filters (appendix.lua labels the appendices), before citeproc: @fig-x is not a citation.
    args += [f"--lua-filter={source_dir / CROSSREF_FILTER}", "--citeproc"]
    args.append(f"--bibliography={source_dir / settings['bibliography']}")
    if settings.get("link-citations"):
        args.append("--metadata=link-citations:true")
    if fmt == "html":
        args += ["--embed-resources"] if options.get("embed-resources") else []
        args += ["--mathml"] if options.get("html-math-method") == "mathml" else []
        args += [f"--css={source_dir / name}" for name in options.get("css", [])]
        args.append(f"--include-after-body={source_dir / SIDEBAR_SCRIPT}")
    else:
        args.append(f"--variable=papersize:{options['papersize']}")
        headers = [TYPST_HEADER, *options.get("include-in-header", [])]
        args += [f"--include-in-header={source_dir / name}" for name in headers]
    return args


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
            extra_args=pandoc_args(source_dir, "html"),
        )


def render_pdf(source_dir, output):
    """Typst source by pandoc (kept as source/report.typ), compiled by Typst's Python package."""
    import pypandoc
    import typst

    source_dir = Path(source_dir)
    typst_source = source_dir / "report.typ"
    options = project_settings(source_dir)["format"]["typst"]
    metadata = {key: options[key] for key in TYPST_METADATA if key in options}
    typst_source.write_text(
        pypandoc.convert_text(
            _markdown(source_dir, metadata),
            "typst",
            format="markdown",
            extra_args=pandoc_args(source_dir, "typst"),
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
