"""Stage 2, quantize: turning a model into its quantized version, and what that costs.

Strategies (specs, no torch), the quantizers this project computes itself, real library
backends (gguf, bitsandbytes, HQQ, optimum-quanto), calibrated quantizers (GPTQ, AWQ),
protection masks, salience on calibration text, and applying a strategy to a model in
place with exact storage accounting.

May import: the shared ground and quant_fairness.data.
Rules: workflow/rules/quantize.smk; scripts: scripts/quantize/.
"""
