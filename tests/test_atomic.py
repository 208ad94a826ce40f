"""An interrupted write leaves the previous result whole and no temporary file behind."""

import errno
import os
from pathlib import Path

import pytest

from quant_fairness import atomic
from quant_fairness.atomic import atomic_directory, atomic_path, write_text
from quant_fairness.errors import QuantFairnessError


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


def test_a_folder_is_replaced_whole_and_leaves_nothing_behind(tmp_path):
    target = tmp_path / "model"
    with atomic_directory(target) as folder:
        (folder / "weights").write_text("old")
    with atomic_directory(target) as folder:
        (folder / "weights").write_text("new")
    assert (target / "weights").read_text() == "new"
    assert [path.name for path in tmp_path.iterdir()] == ["model"]


def test_the_two_folders_are_swapped_in_one_step_here(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x").write_text("a")
    assert atomic.exchange(tmp_path / "a", tmp_path / "b")
    assert (tmp_path / "b" / "x").read_text() == "a" and not (tmp_path / "a" / "x").exists()


def test_a_crash_while_replacing_a_folder_never_loses_the_old_one(tmp_path, monkeypatch):
    """Without an atomic swap, the old folder is renamed aside before the new one moves in: a crash
    between the two leaves the old one on disk, where the earlier code had already deleted it."""
    target = tmp_path / "model"
    with atomic_directory(target) as folder:
        (folder / "weights").write_text("old")
    real_replace = os.replace

    def crash_on_the_new_folder(source, destination):
        if Path(destination) == target:
            raise RuntimeError("killed")
        real_replace(source, destination)

    monkeypatch.setattr(atomic, "exchange", lambda first, second: False)
    monkeypatch.setattr(atomic.os, "replace", crash_on_the_new_folder)
    with pytest.raises(RuntimeError):
        with atomic_directory(target) as folder:
            (folder / "weights").write_text("new")
    assert [path.read_text() for path in tmp_path.rglob("weights")] == ["old"]


def test_a_full_disk_is_one_line_naming_the_file(tmp_path, monkeypatch):
    def full(source, destination):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic.os, "replace", full)
    with pytest.raises(QuantFairnessError, match=r"cannot write '.*table.tsv': No space left on device"):
        write_text(tmp_path / "table.tsv", "x\n")
    assert list(tmp_path.iterdir()) == []
