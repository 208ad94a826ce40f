"""Stage 3, stats: every number computed from per-segment score tables, never from a model.

The metric formulas, scores paired by segment id, the paired bootstrap, per-language and
group disparity, paired comparisons and rankings of strategies, resource correlation, the
noise floor, and the seed claims (their predicate grammar and their verdicts).

May import: the shared ground and the stages below (data, quantize); it loads no torch and no model.
Rules: workflow/rules/stats.smk; scripts: scripts/stats/.
"""
