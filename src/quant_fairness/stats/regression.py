"""Which language property carries the degradation? A least-squares regression across
languages, per model and strategy, of ΔBPB (and KLD where scored) on four predictors together:
log10 speakers, Latin script or not, the model's tokens per byte, and its baseline BPB.

Each predictor is standardised across the languages (mean 0, SD 1), so a coefficient is the
bits per byte of degradation that one standard deviation of that predictor goes with, the
others held fixed, and coefficients compare with one another. Two intervals per coefficient:
the segment bootstrap (how stable the fit is given this text, the same resamples as every
other table) and a language bootstrap (resampling the languages themselves: how much the
answer depends on which languages were measured, the wider and more honest of the two for
generalising beyond this set). Fewer than MIN_LANGUAGES languages leave too few degrees of
freedom for four slopes: the rows say so.

    rows = regression_rows("smollm2-135m", scores, language_rows, resamples=1000, seed=0)
"""

import numpy as np

from quant_fairness.data.speakers import SPEAKER_SCALE, speaker_scale
from quant_fairness.stats.bootstrap import percentile_interval, resample_indices
from quant_fairness.stats.correlation import degradation_values, predictor_values

MIN_LANGUAGES = 15
METRICS = ("delta_bpb", "kld_bpb")
PREDICTORS = (SPEAKER_SCALE, "latin_script", "tokens_per_byte", "baseline_bpb")
COLUMNS = (
    "model",
    "strategy",
    "metric",
    "predictor",
    "languages",
    "coefficient",
    "ci_low",
    "ci_high",
    "language_ci_low",
    "language_ci_high",
    "r_squared",
    "note",
)


def standardised_fit(design, outcome):
    """Slopes of `outcome` on the columns of `design` (languages × predictors), each column
    standardised, with an intercept; and R². None when a column is constant or the columns are
    collinear."""
    spread = design.std(0)
    if (spread == 0).any():
        return None
    z = np.column_stack([np.ones(len(design)), (design - design.mean(0)) / spread])
    if np.linalg.matrix_rank(z) < z.shape[1]:
        return None
    beta = np.linalg.lstsq(z, outcome, rcond=None)[0]
    residual = outcome - z @ beta
    total = ((outcome - outcome.mean()) ** 2).sum()
    return beta[1:], float(1 - (residual**2).sum() / total) if total > 0 else None


def language_bootstrap(design, outcome, resamples, seed):
    """Slopes refitted on languages resampled with replacement: (array resamples × predictors of
    the defined fits, how many resamples were degenerate)."""
    # A stream of its own: the segment resamples are drawn from `seed` itself.
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    fits, degenerate = [], 0
    for _ in range(resamples):
        pick = rng.integers(0, len(outcome), len(outcome))
        fit = standardised_fit(design[pick], outcome[pick])
        if fit is None:
            degenerate += 1
        else:
            fits.append(fit[0])
    return np.array(fits).reshape(-1, design.shape[1]), degenerate


def design_columns(scores, index, language_rows):
    """(languages covered, their columns in scores.languages, array rows of `index` × languages ×
    PREDICTORS): the languages with a speaker count, each predictor per resample (the script and
    speakers do not resample)."""
    values = predictor_values(scores, index, {SPEAKER_SCALE: speaker_scale(language_rows)})
    covered, speakers = values[f"resource_{SPEAKER_SCALE}"]
    columns = [scores.languages.index(lang) for lang in covered]
    script = {row["lang"]: row["script"] for row in language_rows}
    latin = np.array([script[lang] == "Latn" for lang in covered], dtype=float)
    design = np.stack(
        [
            speakers,
            np.broadcast_to(latin, speakers.shape),
            values["tokens_per_byte"][1][:, columns],
            values["baseline_bpb"][1][:, columns],
        ],
        -1,
    )
    return covered, columns, design


def regression_rows(model, scores, language_rows, resamples, seed, level=0.95):
    """Rows of COLUMNS: one per strategy, metric and predictor; `language_rows` is
    results/corpus/languages.tsv (script and log10 speakers per language)."""
    index = resample_indices(len(scores.ids), resamples, seed)
    covered, columns, design = design_columns(scores, index, language_rows)
    unscaled = [lang for lang in scores.languages if lang not in covered]
    left_out = f"no speaker count for {', '.join(unscaled)}: left out" if unscaled else ""
    rows = []
    for strategy in scores.nll:
        degradation = degradation_values(scores, strategy, index)
        for metric in (m for m in METRICS if m in degradation):
            outcome = degradation[metric][:, columns]
            base = {"model": model, "strategy": strategy, "metric": metric, "languages": len(covered)}
            fits = _fit_rows(design, outcome, resamples, seed, level)
            rows += [{**base, **row, "note": "; ".join(filter(None, (row.get("note"), left_out)))} for row in fits]
    return rows


def _fit_rows(design, outcome, resamples, seed, level):
    """One row per predictor: its coefficient, both intervals and the fit's R²."""
    if len(outcome[0]) < MIN_LANGUAGES:
        note = f"undefined: {len(outcome[0])} languages, at least {MIN_LANGUAGES} needed"
        return [{"predictor": name, "note": note} for name in PREDICTORS]
    point = standardised_fit(design[0], outcome[0])
    if point is None:
        note = "undefined: a predictor is constant across the languages, or the predictors are collinear"
        return [{"predictor": name, "note": note} for name in PREDICTORS]
    segment = [standardised_fit(design[b], outcome[b]) for b in range(1, len(outcome))]
    by_segment = np.array([np.full(len(PREDICTORS), np.nan) if fit is None else fit[0] for fit in segment])
    by_language, degenerate = language_bootstrap(design[0], outcome[0], resamples, seed)
    rows = []
    for k, name in enumerate(PREDICTORS):
        row = {"predictor": name, "coefficient": float(point[0][k]), "r_squared": point[1]}
        notes = []
        interval = percentile_interval(by_segment[:, k], level)
        if interval is None:
            notes.append("segment CI undefined: degenerate fits in some resamples")
        else:
            row["ci_low"], row["ci_high"] = interval
        # Dropping many degenerate resamples would leave an interval of the lucky draws only.
        if degenerate > (1 - level) * resamples:
            notes.append(f"language CI undefined: {degenerate} of {resamples} language resamples degenerate")
        else:
            row["language_ci_low"], row["language_ci_high"] = percentile_interval(by_language[:, k], level)
            if degenerate:
                notes.append(f"{degenerate} of {resamples} language resamples degenerate (left out)")
        row["note"] = "; ".join(notes)
        rows.append(row)
    return rows
