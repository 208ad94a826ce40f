"""Per-segment scores as arrays paired by segment id: the unit every statistic starts from.

The corpus is parallel, so one segment id names the same verse in every language, and
every strategy is scored on the same ids as the baseline. Resampling positions of
`ids` therefore resamples baseline, quantized scores and all languages together.

    scores = load_paired("results/scores/m/baseline.tsv", ["results/scores/m/rtn_int4_g32.tsv"])
    scores.nll["rtn_int4_g32"]["he"]     # NLL per segment, in the order of scores.ids
    scores.baseline["he"], scores.tokens["he"], scores.n_bytes["he"]
    scores.kl["rtn_int4_g32"]["he"], scores.agree["rtn_int4_g32"]["he"]   # where the table has them
"""

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from quant_fairness.errors import QuantFairnessError
from quant_fairness.tables import read_scores

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PairedScores:
    ids: list
    languages: list
    tokens: dict
    n_bytes: dict
    baseline: dict
    nll: dict
    kl: dict = field(default_factory=dict)  # {strategy: {lang: KL per segment}}, strategies compared with the reference
    agree: dict = field(default_factory=dict)  # {strategy: {lang: top-1 agreements per segment}}

    def first(self, n):
        """The first `n` segments (in id order, which is the split's order) only."""

        def cut(arrays):
            return {lang: values[:n] for lang, values in arrays.items()}

        def cut_each(tables):
            return {strategy: cut(arrays) for strategy, arrays in tables.items()}

        return PairedScores(
            self.ids[:n],
            self.languages,
            cut(self.tokens),
            cut(self.n_bytes),
            cut(self.baseline),
            cut_each(self.nll),
            cut_each(self.kl),
            cut_each(self.agree),
        )


def _column(rows, ids, languages, what, table):
    lookup = {(r["lang"], r["id"]): r[what] for r in rows}
    try:
        return {lang: np.array([lookup[(lang, i)] for i in ids], dtype=float) for lang in languages}
    except KeyError as missing:
        raise QuantFairnessError(
            f"score tables are not paired: {table} has no segment {missing.args[0]}; "
            "every strategy must be scored on the baseline's segments"
        ) from None


def paired_scores(baseline_rows, strategy_rows):
    """PairedScores over the segment ids the baseline has in every language."""
    if not baseline_rows:
        raise QuantFairnessError("the baseline score table is empty: expected one row per language and segment")
    languages = sorted({r["lang"] for r in baseline_rows})
    per_language = [{r["id"] for r in baseline_rows if r["lang"] == lang} for lang in languages]
    ids = sorted(set.intersection(*per_language))
    if not ids:
        raise QuantFairnessError(f"no segment id is scored in every language of {languages}")
    dropped = {lang: len(scored) - len(ids) for lang, scored in zip(languages, per_language, strict=True)}
    if any(dropped.values()):
        log.warning("segments scored in some languages only are left out of every statistic: %s", dropped)
    # Strategies whose tables compare with the reference (every row has a divergence).
    compared = [
        (name, rows)
        for name, rows in sorted(strategy_rows.items())
        if rows and all(row.get("kl_divergence") is not None for row in rows)
    ]
    return PairedScores(
        ids,
        languages,
        _column(baseline_rows, ids, languages, "tokens", "the baseline"),
        _column(baseline_rows, ids, languages, "bytes", "the baseline"),
        _column(baseline_rows, ids, languages, "nll", "the baseline"),
        {name: _column(rows, ids, languages, "nll", name) for name, rows in sorted(strategy_rows.items())},
        {name: _column(rows, ids, languages, "kl_divergence", name) for name, rows in compared},
        {name: _column(rows, ids, languages, "top1_agreement", name) for name, rows in compared},
    )


def load_paired(baseline_path, strategy_paths):
    """PairedScores from score tables on disk; each strategy is named by its file's stem."""
    return paired_scores(read_scores(baseline_path), {Path(path).stem: read_scores(path) for path in strategy_paths})
