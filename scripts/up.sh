#!/usr/bin/env bash
# The main job on a fresh machine: install everything, start the managed Neo4j (unless
# NEO4J_URI points at another server), build the warehouse from $TARGETKG_DATA (all sources,
# quality gates, release manifest), train the default link-prediction model and write its
# predictions, learn patient overlays where omics data exists, extract literature evidence from
# real abstracts, show what it holds, serve the API
# (foreground; Ctrl-C stops the API, `targetkg neo4j stop` the database).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/bootstrap.sh

api_host="${TARGETKG_API_HOST:-127.0.0.1}"
api_port="${TARGETKG_API_PORT:-8000}"
# the API binds last, after a half-hour build: a port that is taken stops the job now, not then
targetkg serve --check-port --host "$api_host" --port "$api_port"
targetkg neo4j start
targetkg build "$@"
# The default model (R-GCN, drugs held out, early stopping on validation MRR: ~55-75 epochs, 2-10 min
# on 2 cores) beside the degree and path-count baselines; the top-100 TREATS predictions per drug of
# whichever has the best validation MRR are written back, with explanations (a model that does not
# beat its baselines is not worth writing back).
targetkg train --model rgcn --relations TREATS --epochs 150 --seed 0 --predict-top-k 100 --write-model best
# Predicted targets: the same for gene -> disease associations; the 100 best genes per disease are written
# (PREDICTED_ASSOCIATED_WITH, rank_of: object), so /diseases/{id}/targets ranks them beside the curated
# evidence. Random held-out edges (not whole diseases): every disease keeps most of its known genes, as
# it does when its predictions are used (~4 min; on 2026-11-22 the path-count baseline won, validation
# MRR 0.108 against degree 0.086 and R-GCN 0.069, and was written).
targetkg train --model rgcn --relations GENE_ASSOCIATED_WITH_CONDITION --split random --epochs 150 --seed 0 \
  --predict-top-k 100 --predict-per object --write-model best
# Patient overlays where omics data exists: lung adenocarcinoma vs non-tumour lung (GSE10072).
data="${TARGETKG_DATA:-$(pwd)/../shared/data}"
expr="$data/expression/GSE10072"
if [ -f "$expr/GSE10072_clock_genes.csv" ]; then
  targetkg bn learn "$expr/GSE10072_clock_genes.csv" --metadata "$expr/labels.tsv" --group-column condition \
    --drop condition --scale log2 --run-id gse10072 --cohort GSE10072 --write-overlay
  targetkg bn ecv gse10072 --group-a tumor --group-b non-tumor
fi
# Literature: the project's own NER (default profile "fast": ~5 min on 2 cores, then ~5 min for its
# stacked span filter, +0.017 F1; `--profile accurate` takes 20-40 min for +0.003 F1 without a filter;
# TARGETKG_NLP_NER_PROFILE=ensemble trains fast, medium and accurate, which vote: +0.016 F1 at ~0.4x
# the speed) and relation models, trained once from the BC5CDR and BioRED
# training splits and cached, then grounded, evidenced relations from
# real abstracts (the corpora's development sets: 600 PubMed abstracts).
targetkg nlp train-ner --if-missing --max-minutes 30
targetkg nlp train-relations --if-missing
for abstracts in "$data/bc5cdr/CDR_DevelopmentSet.PubTator.txt" "$data/biored/Dev.PubTator"; do
  if [ -f "$abstracts" ]; then targetkg ingest literature --from "$abstracts"; fi
done
targetkg stats
targetkg neo4j status
echo "Serving the hypothesis API on http://$api_host:$api_port (docs at /docs)"
exec targetkg serve --host "$api_host" --port "$api_port"
