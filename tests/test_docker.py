"""docker/: the compose file is valid (via `docker compose config` where the CLI exists)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
COMPOSE = REPO / "docker" / "docker-compose.yml"


def _compose_cli() -> list[str] | None:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_compose_file_is_valid():
    env = dict(os.environ, NEO4J_PASSWORD="test-password", TARGETKG_DATA=str(REPO))
    cli = _compose_cli()
    if cli is not None:
        proc = subprocess.run([*cli, "-f", str(COMPOSE), "config"], capture_output=True, text=True, env=env)
        assert proc.returncode == 0, proc.stderr
        config = yaml.safe_load(proc.stdout)
    else:
        # No Compose CLI on this machine (no Docker engine either): check what `config` would.
        config = yaml.safe_load(COMPOSE.read_text())
    services = config["services"]
    neo4j = services["neo4j"]
    assert neo4j["image"].startswith("neo4j:5.26") and "community" in neo4j["image"]
    assert "apoc" in str(neo4j["environment"]["NEO4J_PLUGINS"])
    ports = [str(p) for p in neo4j["ports"]]
    assert all("127.0.0.1" in p for p in ports), "the database must listen on loopback only"
    assert "healthcheck" in neo4j
    warehouse = services["warehouse"]
    assert warehouse["build"]["dockerfile"].endswith("Dockerfile")
    assert "bolt://neo4j:7687" in str(warehouse["environment"]["NEO4J_URI"])
    api = services["api"]
    assert api["command"][0] == "serve" and "healthcheck" in api
    assert all("127.0.0.1" in str(p) for p in api["ports"])
    dockerfile = (REPO / "docker" / "Dockerfile").read_text()
    assert "pip install ." in dockerfile and 'ENTRYPOINT ["targetkg"]' in dockerfile
