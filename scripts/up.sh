#!/usr/bin/env bash
# The main job on a fresh machine: install everything, start the managed Neo4j (unless
# NEO4J_URI points at another server), build the warehouse from $TARGETKG_DATA (all sources,
# quality gates, release manifest) and show what it holds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/bootstrap.sh

targetkg neo4j start
targetkg build "$@"
targetkg stats
targetkg neo4j status
