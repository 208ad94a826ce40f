"""An interrupted write leaves the previous result whole and no temporary file behind."""

import os

import pytest

from quant_fairness.atomic import atomic_directory, atomic_path, write_text


def test_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "table.tsv"
    write_text(target, "old\n")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half a ro")
            raise RuntimeError("killed")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.tsv"]


def test_failed_directory_build_leaves_nothing(tmp_path):
    target = tmp_path / "model"
    with pytest.raises(RuntimeError):
        with atomic_directory(target) as folder:
            (folder / "config.json").write_text("{}")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_results_get_ordinary_permissions(tmp_path):
    previous = os.umask(0o022)
    try:
        write_text(tmp_path / "a.tsv", "x\n")
    finally:
        os.umask(previous)
    assert (tmp_path / "a.tsv").stat().st_mode & 0o777 == 0o644
