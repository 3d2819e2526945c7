#!/usr/bin/env bash
# Installs everything TargetKG needs into one virtual environment outside the checkout, so a
# fresh clone (and CI) reuses what is already installed: Python packages via pip, and the
# Neo4j server jars via Maven (cached by `targetkg neo4j install`).
# Usage: source scripts/bootstrap.sh   (sets TARGETKG_VENV and activates it)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/targetkg"
export TARGETKG_VENV="${TARGETKG_VENV:-$cache/venv-py311}"

need() { command -v "$1" >/dev/null 2>&1; }

# Java 17 and Maven: prerequisites; installed from Debian/Ubuntu packages when we can.
if ! need java || ! need mvn; then
  if need apt-get && [ "$(id -u)" = 0 ]; then
    echo "bootstrap: installing Java 17 and Maven (apt-get)…"
    apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless maven >/dev/null
  else
    echo "bootstrap: TargetKG needs Java 17 and Maven on PATH (e.g. apt-get install openjdk-17-jre-headless maven)" >&2
    exit 1
  fi
fi

py="${TARGETKG_PYTHON:-}"
if [ -z "$py" ]; then
  for cand in python3.11 python3; do
    if need "$cand" && "$cand" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then py="$cand"; break; fi
  done
fi
if [ -z "$py" ]; then
  echo "bootstrap: TargetKG needs Python 3.11 (set TARGETKG_PYTHON to its path)" >&2
  exit 1
fi

if [ ! -x "$TARGETKG_VENV/bin/python" ]; then
  echo "bootstrap: creating virtual environment $TARGETKG_VENV"
  "$py" -m venv "$TARGETKG_VENV"
  "$TARGETKG_VENV/bin/python" -m pip install -q --upgrade pip setuptools wheel
fi
# shellcheck disable=SC1091
source "$TARGETKG_VENV/bin/activate"

# Reinstall only when the dependency list changed (pip is slow even when satisfied).
stamp="$TARGETKG_VENV/.targetkg-deps"
want="$(sha256sum "$repo/pyproject.toml" | cut -d' ' -f1)-$repo"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "bootstrap: installing TargetKG and its Python dependencies (pip)…"
  python -m pip install -q -e "$repo[test]"
  # scispaCy 0.6.2 pins numpy<2 in its metadata but runs on numpy 2; its own deps are in pyproject.
  python -m pip install -q --no-deps "scispacy==0.6.2"
  echo "$want" > "$stamp"
fi

# Neo4j Community + Browser + APOC from Maven Central, once (cached per user).
if [ -z "${NEO4J_URI:-}" ]; then
  targetkg neo4j install
fi
