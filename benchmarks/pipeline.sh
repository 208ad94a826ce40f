#!/usr/bin/env bash
# Whole-pipeline wall time: the default config from a clean results/ (models and corpus
# rebuilt too; the downloaded wheels in resources/wheels/ are kept), then a no-op rerun; the
# job-seconds of every rule read from Snakemake's log of the clean run, what of them went to
# start-up and model loading (the job logs), and the pipeline's
# efficiency (the FLOPs its model jobs logged over wall time x the matmul ceiling).
#   bash benchmarks/pipeline.sh [CORES] [CONFIGFILE]   (default 2 cores, the default config)
#   bash benchmarks/pipeline.sh 2 config/wide.yaml         (the wide-language study)
set -euo pipefail
cores="${1:-2}"
config=()
if [ -n "${2:-}" ]; then config=(--configfile "$2"); fi
rm -rf results resources/models resources/corpus resources/masks logs .snakemake/incomplete
log=$(mktemp --suffix=.snakemake.log)
trap 'echo "Snakemake log of the clean run: $log"' EXIT
start=$(date +%s)
QUANT_FAIRNESS_COUNT_FLOPS=1 snakemake --cores "$cores" "${config[@]}" > "$log" 2>&1
middle=$(date +%s)
snakemake --cores "$cores" "${config[@]}" --quiet
end=$(date +%s)
echo "clean run: $((middle - start)) s; no-op rerun: $((end - middle)) s (--cores $cores)"
python "$(dirname "$0")/job_seconds.py" "$log" --markdown
python "$(dirname "$0")/job_startup.py" "$log" --markdown
python "$(dirname "$0")/pipeline_efficiency.py" --wall "$((middle - start))" --threads "$cores"
