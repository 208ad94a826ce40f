"""Stage 4, evaluate: running models over text.

Scoring segments (summed NLL per segment, in length-sorted batches), the block switch that
puts chosen decoder blocks back to their original weights, and the layer sweep (seed 002)
built on both and judged with quant_fairness.stats.

May import: the shared ground, quant_fairness.data, .quantize and .stats.
Rules: workflow/rules/evaluate.smk; scripts: scripts/evaluate/.
"""
