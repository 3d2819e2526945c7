#!/usr/bin/env bash
# The main job on a fresh machine: install everything, start the managed Neo4j (unless
# NEO4J_URI points at another server), build the warehouse from $TARGETKG_DATA (all sources,
# quality gates, release manifest), show what it holds, and serve the hypothesis API
# (foreground; Ctrl-C stops the API, `targetkg neo4j stop` the database).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/bootstrap.sh

targetkg neo4j start
targetkg build "$@"
targetkg stats
targetkg neo4j status
echo "Serving the hypothesis API on http://${TARGETKG_API_HOST:-127.0.0.1}:${TARGETKG_API_PORT:-8000} (docs at /docs)"
exec targetkg serve --host "${TARGETKG_API_HOST:-127.0.0.1}" --port "${TARGETKG_API_PORT:-8000}"
