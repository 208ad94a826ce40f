"""The report's history: each version leaves a summary beside its report (version, date, config
hash, git describe, the configuration, its strategies and its headline numbers with CIs), so a
new version can say what changed since the previous one and results/report/index.html can list
every version on disk, newest first.

    summary = version_summary(context, config, rendered_at)
    write_summary(summary, "results/report/<version>/summary.json")
    previous = previous_summary("results/report", version)       # None for the first version
    changed = changes(previous, summary)                         # config keys, strategies, moved numbers
    write_index("results/report", "results/report/index.html")
"""

import html
import json
from pathlib import Path

from quant_fairness.atomic import atomic_path
from quant_fairness.plan import headline_strategies
from quant_fairness.report.formatting import with_ci

SUMMARY = "summary.json"
# What a version's headline is: each headline strategy's group means and disparity.
HEADLINE = (("low", "mean_delta_bpb"), ("high", "mean_delta_bpb"), ("disparity", "robust_disparity"))


def headline_numbers(config, models):
    """[{model, strategy, scope, metric, value, ci_low, ci_high}] of the headline strategies."""
    numbers = []
    for model in models:
        lookup = {(r["strategy"], r["scope"], r["metric"]): r for r in model["rows"]}
        for strategy in headline_strategies(config):
            for scope, metric in HEADLINE:
                row = lookup.get((strategy, scope, metric))
                if row is not None:
                    numbers.append(
                        {"model": model["name"], "strategy": strategy, "scope": scope, "metric": metric}
                        | {key: row[key] for key in ("value", "ci_low", "ci_high")}
                    )
    return numbers


def version_summary(context, config, rendered_at):
    """What the index and the next version need to know of this one."""
    version = context["version"]
    return {
        "version": version,
        "date": rendered_at.isoformat(timespec="seconds"),
        "config_hash": context["config_hash"],
        "git_describe": version.removesuffix(f"-{context['config_hash']}"),
        "config": config,
        "strategies": {model["name"]: model["strategies"] for model in context["models"]},
        "headline": headline_numbers(config, context["models"]),
    }


def write_summary(summary, path):
    with atomic_path(path, suffix=".json") as tmp:
        Path(tmp).write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n")


def summaries(report_root):
    """Every version's summary under `report_root`, newest first."""
    found = [json.loads(path.read_text()) for path in Path(report_root).glob(f"*/{SUMMARY}")]
    return sorted(found, key=lambda summary: (summary["date"], summary["version"]), reverse=True)


def previous_summary(report_root, version):
    """The newest summary of another version rendered before this one (before its first
    rendering, when it is rendered again), or None."""
    found = summaries(report_root)
    own = next((summary["date"] for summary in found if summary["version"] == version), None)
    earlier = (s for s in found if s["version"] != version and (own is None or s["date"] < own))
    return next(earlier, None)


def _flatten(value, prefix=""):
    if isinstance(value, dict):
        return {key: leaf for k, v in value.items() for key, leaf in _flatten(v, f"{prefix}{k}.").items()}
    return {prefix.rstrip("."): value}


def _shown(config, key):
    """A configuration value as JSON, None where the key is not set."""
    return json.dumps(config[key]) if key in config else None


def _interval(number):
    if "NA" in (number["ci_low"], number["ci_high"]):
        return None
    return float(number["ci_low"]), float(number["ci_high"])


def changes(previous, current):
    """{previous, config (key, before, after: JSON, None where unset), added, removed (model,
    strategy), moved (numbers whose CIs no longer overlap), compared (whether the intervals
    could be compared: the same CI level)}; None without a previous version."""
    if previous is None:
        return None
    before, after = _flatten(previous["config"]), _flatten(current["config"])
    config = [
        {"key": key, "before": _shown(before, key), "after": _shown(after, key)}
        for key in sorted(before.keys() | after.keys())
        if _shown(before, key) != _shown(after, key)
    ]
    old = {(model, s) for model, names in previous["strategies"].items() for s in names}
    new = {(model, s) for model, names in current["strategies"].items() for s in names}
    earlier = {(n["model"], n["strategy"], n["scope"], n["metric"]): n for n in previous["headline"]}
    moved = []
    # Intervals at two confidence levels do not compare: the changed key is listed instead.
    same_level = before.get("stats.ci_level") == after.get("stats.ci_level")
    for number in current["headline"] if same_level else []:
        key = (number["model"], number["strategy"], number["scope"], number["metric"])
        was = earlier.get(key)
        now, then = _interval(number), was and _interval(was)
        if now and then and (now[1] < then[0] or now[0] > then[1]):
            moved.append({**{k: number[k] for k in ("model", "strategy", "scope", "metric")},
                          "before": with_ci(was), "after": with_ci(number)})  # fmt: skip
    return {
        "previous": previous["version"],
        "config": config,
        "added": sorted(new - old),
        "removed": sorted(old - new),
        "moved": moved,
        "compared": same_level,
    }


INDEX_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;line-height:1.4}"
    "table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ccc;padding:.3rem .5rem;"
    "text-align:left;vertical-align:top}tbody tr:nth-child(even){background:#f5f5f5}td.n{white-space:nowrap}"
)


def _headline_cell(summary):
    return "<br>".join(
        html.escape(f"{n['model']} {n['strategy']} {n['scope']} {n['metric']}: {with_ci(n)}")
        for n in summary["headline"]
        if n["scope"] == "disparity"
    )


def write_index(report_root, output):
    """results/report/index.html: every version on disk, newest first, with its headline numbers."""
    rows = "".join(
        f'<tr><td class=n><a href="{html.escape(s["version"])}/report.html">{html.escape(s["version"])}</a>'
        f' (<a href="{html.escape(s["version"])}/report.pdf">PDF</a>)</td><td class=n>{html.escape(s["date"])}</td>'
        f"<td><code>{html.escape(s['config_hash'])}</code></td><td><code>{html.escape(s['git_describe'])}</code></td>"
        f"<td>{_headline_cell(s)}</td></tr>"
        for s in summaries(report_root)
    )
    page = (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><meta name=viewport "
        'content="width=device-width,initial-scale=1"><title>quant-fairness reports</title>'
        f"<style>{INDEX_STYLE}</style></head><body><h1>quant-fairness reports</h1>"
        "<p>Every version of the report on disk, newest first: the code's git version and the "
        "configuration's hash name each; robust disparity of each headline strategy with its CI.</p>"
        "<table><thead><tr><th>version</th><th>date</th><th>config hash</th><th>git describe</th>"
        f"<th>headline (robust disparity)</th></tr></thead><tbody>{rows}</tbody></table></body></html>\n"
    )
    with atomic_path(output, suffix=".html") as tmp:
        Path(tmp).write_text(page)
