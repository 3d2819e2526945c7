#!/usr/bin/env bash
# The whole test suite against a real Neo4j: a dedicated managed instance (own data directory
# and ports, so a developer's warehouse is never touched), or the server in NEO4J_URI.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/bootstrap.sh

export TARGETKG_HOME="${TARGETKG_HOME:-$HOME/.local/share/targetkg-test}"
export TARGETKG_BOLT_PORT="${TARGETKG_BOLT_PORT:-17687}"
export TARGETKG_HTTP_PORT="${TARGETKG_HTTP_PORT:-17474}"
export TARGETKG_HEAP="${TARGETKG_HEAP:-2g}"
export TARGETKG_PAGECACHE="${TARGETKG_PAGECACHE:-1g}"

if [ -z "${NEO4J_URI:-}" ]; then
  targetkg neo4j stop            # clears a stale pid file left by a killed run
  targetkg neo4j start
  trap 'targetkg neo4j stop' EXIT
fi

set +e
python -m pytest "$@"
rc=$?
set -e
if [ "$rc" = 5 ]; then
  # a selection that runs nothing has tested nothing: say so and fail
  echo "pytest collected no tests (exit 5); check the selection you passed" >&2
fi
exit "$rc"
