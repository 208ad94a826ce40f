"""Stage 5, artifacts: seed 000's files made real, and where the weights live.

Packed INT4/INT8 models, the fairness patch (pack and apply), low-rank corrections of the
quantization error, the artifact catalogue and its size and effect tables, and the weight
universe (parameters per component and block, where protected weights fall).

May import: the shared ground, quant_fairness.data, .quantize, .stats and .evaluate.
Rules: workflow/rules/artifacts.smk; scripts: scripts/artifacts/.
"""
