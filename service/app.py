"""The hypothesis API (FastAPI). Routers stay thin: they call `service.queries`."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from targetkg import __version__
from targetkg.settings import get_settings

PROBLEM = "application/problem+json"


class SourceSummary(BaseModel):
    id: str
    version: str | None = None
    edges: int | None = None


class Health(BaseModel):
    status: str
    neo4j: str
    release: str | None = None
    nodes: int | None = None
    relationships: int | None = None
    sources: list[SourceSummary] = []
    version: str = __version__


def problem(status: int, title: str, detail: str, **extra) -> JSONResponse:
    """RFC 9457 problem details."""
    return JSONResponse({"type": "about:blank", "title": title, "status": status, "detail": detail, **extra},
                        status_code=status, media_type=PROBLEM)


def create_app() -> FastAPI:
    app = FastAPI(title="TargetKG hypothesis API", version=__version__,
                  description="Ranked, evidenced target hypotheses from the TargetKG Neo4j warehouse.")

    @app.get("/health", response_model=Health, responses={503: {"description": "Neo4j unreachable"}})
    def health(request: Request):
        """Runs a real Cypher query; 503 with the reason when Neo4j cannot answer."""
        from targetkg.graph.connection import Neo4jUnavailable, driver
        from targetkg.service import queries

        settings = get_settings()
        try:
            data = queries.health(driver(settings), settings.neo4j_database)
        except Neo4jUnavailable as exc:
            return problem(503, "Neo4j unavailable", str(exc), neo4j=settings.bolt_uri)
        except Exception as exc:  # driver errors while the server restarts
            from targetkg.graph.connection import close_all

            close_all()  # the next call reconnects when the server is back
            return problem(503, "Neo4j unavailable", f"{exc.__class__.__name__}: {exc}", neo4j=settings.bolt_uri)
        return Health(status="ok", neo4j=settings.bolt_uri, **data)

    return app


app = create_app()
