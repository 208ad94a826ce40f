#!/usr/bin/env bash
# Whole-pipeline wall time: the default config from a clean results/ (models and corpus
# rebuilt too; the downloaded wheels in resources/wheels/ are kept), then a no-op rerun.
#   bash benchmarks/pipeline.sh [CORES]   (default 2)
set -euo pipefail
cores="${1:-2}"
rm -rf results resources/models resources/corpus resources/masks logs .snakemake/incomplete
start=$(date +%s)
snakemake --cores "$cores" --quiet
middle=$(date +%s)
snakemake --cores "$cores" --quiet
end=$(date +%s)
echo "clean run: $((middle - start)) s; no-op rerun: $((end - middle)) s (--cores $cores)"
