"""All TargetKG settings in one place (pydantic-settings).

Connection to an external server: ``NEO4J_URI`` (+ ``NEO4J_USER``, ``NEO4J_PASSWORD``,
``NEO4J_DATABASE``). When ``NEO4J_URI`` is unset, every command uses the managed server
that ``targetkg neo4j`` installs and runs. Project settings use the ``TARGETKG_`` prefix.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

import platformdirs
from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# The repository root when running from a checkout (editable install); used only for the
# development default of the shared data directory.
REPO_ROOT = Path(__file__).resolve().parent.parent


def _default_shared_data() -> Path:
    return (REPO_ROOT / ".." / "shared" / "data").resolve()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TARGETKG_", extra="ignore")

    # --- connection (external server wins when NEO4J_URI is set) -------------------------
    neo4j_uri: str | None = Field(default=None, validation_alias=AliasChoices("NEO4J_URI"))
    neo4j_user: str = Field(default="neo4j", validation_alias=AliasChoices("NEO4J_USER", "NEO4J_USERNAME"))
    neo4j_password: str | None = Field(default=None, validation_alias=AliasChoices("NEO4J_PASSWORD"))
    neo4j_database: str = Field(default="neo4j", validation_alias=AliasChoices("NEO4J_DATABASE"))
    connect_timeout_s: float = 5.0

    # --- directories ------------------------------------------------------------------
    # Mutable state of the managed server (conf, data, logs, password), per user.
    home: Path = Field(default_factory=lambda: Path(platformdirs.user_data_dir("targetkg")))
    # Re-creatable downloads: Neo4j jars, source releases, vocabularies.
    cache_dir: Path = Field(default_factory=lambda: Path(platformdirs.user_cache_dir("targetkg")))
    # Real public releases used by tests, benchmarks and the default build.
    data: Path = Field(default_factory=_default_shared_data, validation_alias=AliasChoices("TARGETKG_DATA"))

    # --- managed Neo4j ----------------------------------------------------------------
    # apoc-core with the self-contained `core` classifier is published on Maven Central up
    # to 5.26.5; APOC must match the server's version, so both are pinned together.
    neo4j_version: str = "5.26.5"
    apoc_version: str = "5.26.5"
    browser_version: str = "5.24.0"
    listen_address: str = "127.0.0.1"
    bolt_port: int = 7687
    http_port: int = 7474
    # Sized for 2 cores / 24 GB: Neo4j must leave room for a training process (≤ 8 GB).
    heap: str = "3g"
    pagecache: str = "2g"
    start_timeout_s: float = 180.0
    java: str = "java"
    mvn: str = "mvn"

    # --- build ------------------------------------------------------------------------
    release: str | None = None  # build id; default: derived from the date at build time

    # --- API ----------------------------------------------------------------------------
    # Keys for POST /query, comma-separated in TARGETKG_API_KEYS (never in code).
    api_keys: Annotated[list[str], NoDecode] = []
    query_timeout_s: float = 10.0
    query_row_limit: int = 1000
    # Answers (/targets, /hypotheses, /search, enrichment backgrounds) are materialised per request and
    # graph fingerprint (checked every second, so a write is seen a second later), at most this long;
    # 0 turns materialisation off (every request runs its Cypher).
    api_cache_s: float = 3600.0

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, v):
        if isinstance(v, str):
            return [k.strip() for k in v.split(",") if k.strip()]
        return v

    @property
    def managed(self) -> bool:
        """True when commands use the server that `targetkg neo4j` manages."""
        return not self.neo4j_uri

    @property
    def instance_dir(self) -> Path:
        return self.home / "neo4j"

    @property
    def runtime_dir(self) -> Path:
        return self.cache_dir / "neo4j-runtime" / f"neo4j-{self.neo4j_version}-apoc-{self.apoc_version}"

    @property
    def password_file(self) -> Path:
        return self.instance_dir / "password"

    @property
    def bolt_uri(self) -> str:
        if self.neo4j_uri:
            return self.neo4j_uri
        return f"bolt://{self.listen_address}:{self.bolt_port}"

    @property
    def http_url(self) -> str:
        return f"http://{self.listen_address}:{self.http_port}"

    def password(self) -> str | None:
        if self.neo4j_password is not None:
            return self.neo4j_password
        if self.managed and self.password_file.exists():
            return self.password_file.read_text().strip()
        return None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reload_settings() -> Settings:
    """Re-read the environment (tests and the CLI's --option overrides)."""
    get_settings.cache_clear()
    return get_settings()
