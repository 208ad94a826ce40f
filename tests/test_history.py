"""The report's history: what changed since the previous version, and the index of versions."""

import json
from datetime import UTC, datetime

from quant_fairness.report.history import changes, previous_summary, summaries, write_index, write_summary


def _summary(version, date, config, strategies, disparity):
    """A summary as the report job writes it, with one headline number: (value, low, high)."""
    value, low, high = disparity
    return {
        "version": version,
        "date": date,
        "config_hash": version[-4:],
        "git_describe": version[:-5],
        "config": config,
        "strategies": {"m": strategies},
        "headline": [
            {"model": "m", "strategy": "rtn", "scope": "disparity", "metric": "robust_disparity",
             "value": value, "ci_low": low, "ci_high": high},
            {"model": "m", "strategy": "rtn", "scope": "low", "metric": "mean_delta_bpb",
             "value": "0.1", "ci_low": "NA", "ci_high": "NA"},
        ],
    }  # fmt: skip


CONFIG = {"languages": ["en", "he"], "stats": {"seed": 0, "ci_level": 0.95}}


def test_changes_name_keys_strategies_and_numbers_that_moved_beyond_their_intervals():
    before = _summary("v1-aaaa", "2026-11-01T10:00:00+00:00", CONFIG, ["rtn", "gptq"], ("2.0", "1.8", "2.2"))
    config = {"languages": ["en", "he", "ar"], "stats": {"seed": 1, "ci_level": 0.95}}
    after = _summary("v2-bbbb", "2026-11-02T10:00:00+00:00", config, ["rtn", "nf4"], ("1.5", "1.3", "1.7"))
    changed = changes(before, after)
    assert changed["previous"] == "v1-aaaa"
    assert [row["key"] for row in changed["config"]] == ["languages", "stats.seed"]
    assert changes(before, {**after, "config": {}})["config"][0] == {"key": "languages", "before": '["en", "he"]',
                                                                     "after": None}  # fmt: skip
    assert changed["config"][1] == {"key": "stats.seed", "before": "0", "after": "1"}
    assert changed["added"] == [("m", "nf4")] and changed["removed"] == [("m", "gptq")]
    # The disparity's intervals are apart; the group mean has no interval and is not judged.
    assert [(row["metric"], row["before"], row["after"]) for row in changed["moved"]] == [
        ("robust_disparity", "2 [1.8, 2.2]", "1.5 [1.3, 1.7]")
    ]
    overlapping = _summary("v3-cccc", "2026-11-03T10:00:00+00:00", CONFIG, ["rtn", "gptq"], ("1.9", "1.75", "2.0"))
    assert changes(before, overlapping) == {"previous": "v1-aaaa", "config": [], "added": [], "removed": [],
                                            "moved": [], "compared": True}  # fmt: skip
    assert changes(None, after) is None
    # Intervals at another confidence level are not compared; the level shows as a changed key.
    other_level = {**after, "config": {**config, "stats": {"seed": 1, "ci_level": 0.9}}}
    assert changes(before, other_level)["moved"] == [] and changes(before, other_level)["compared"] is False


def test_the_index_lists_every_version_on_disk_newest_first(tmp_path):
    dates = {"v1-aaaa": "2026-11-01T10:00:00+00:00", "v3-cccc": "2026-11-03T10:00:00+00:00",
             "v2-bbbb": "2026-11-02T10:00:00+00:00"}  # fmt: skip
    for version, date in dates.items():
        write_summary(
            _summary(version, date, CONFIG, ["rtn"], ("2.0", "1.8", "2.2")), tmp_path / version / "summary.json"
        )
    assert [s["version"] for s in summaries(tmp_path)] == ["v3-cccc", "v2-bbbb", "v1-aaaa"]
    assert previous_summary(tmp_path, "v3-cccc")["version"] == "v2-bbbb"
    assert previous_summary(tmp_path, "v2-bbbb")["version"] == "v1-aaaa"  # rendered again: not against v3
    assert previous_summary(tmp_path, "v9-new")["version"] == "v3-cccc"
    write_index(tmp_path, tmp_path / "index.html")
    page = (tmp_path / "index.html").read_text()
    assert page.index("v3-cccc/report.html") < page.index("v2-bbbb/report.html") < page.index("v1-aaaa/report.html")
    assert "m rtn disparity robust_disparity: 2 [1.8, 2.2]" in page and "<code>cccc</code>" in page
    assert "http" not in page  # nothing fetched


def test_a_summary_round_trips_through_its_file(tmp_path):
    summary = _summary("v1-aaaa", datetime(2026, 11, 1, tzinfo=UTC).isoformat(), CONFIG, ["rtn"], ("2", "1", "3"))
    write_summary(summary, tmp_path / "v1-aaaa" / "summary.json")
    assert json.loads((tmp_path / "v1-aaaa" / "summary.json").read_text()) == summary
