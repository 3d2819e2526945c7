"""The hypothesis API (FastAPI). Routers stay thin: they call `service.queries` (every Cypher
string) and `service.ranking` (scores). Errors are RFC 9457 problem+json; every response
carries the graph release (body field `release` and header `X-TargetKG-Release`)."""

from __future__ import annotations

import hmac
import math
import threading
import time
from collections import OrderedDict
from typing import Any, Literal
from urllib.parse import quote

import orjson
from fastapi import FastAPI, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from targetkg import __version__
from targetkg.settings import get_settings

PROBLEM = "application/problem+json"


# ------------------------------------------------------------------------------- models
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


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str


class Envelope(BaseModel):
    release: str | None = Field(None, description="The warehouse build (release) the answer comes from")
    browser_url: str | None = Field(None, description="Neo4j Browser deep link with a Cypher query to look at the evidence")


class SearchHit(BaseModel):
    id: str
    name: str | None = None
    label: str | None = None
    synonyms: list[str] = []
    score: float | None = None
    match: str


class SearchResponse(Envelope):
    query: str
    hits: list[SearchHit]


class NeighbourRef(BaseModel):
    id: str | None = None
    name: str | None = None
    source: str | None = None


class NeighbourGroup(BaseModel):
    type: str
    direction: Literal["in", "out"]
    label: str | None = None
    count: int
    top: list[NeighbourRef]


class EntityResponse(Envelope):
    id: str
    name: str | None = None
    label: str
    labels: list[str]
    properties: dict[str, Any]
    degree: int
    neighbours: list[NeighbourGroup]


class PathNode(BaseModel):
    id: str | None = None
    name: str | None = None


class EvidencePath(BaseModel):
    kind: str
    weight: float
    nodes: list[PathNode]
    relationships: list[str]
    sources: list[str | None] = []
    note: str | None = None


class ComponentScores(BaseModel):
    association: float = 0.0
    drug: float = 0.0
    pathway: float = 0.0
    predicted: float = 0.0


class Target(BaseModel):
    rank: int
    gene: str
    symbol: str | None = None
    score: float
    known: bool
    components: ComponentScores
    paths: list[EvidencePath]


class TargetsResponse(Envelope):
    disease: PathNode
    total: int
    offset: int
    limit: int
    weights: dict[str, float]
    targets: list[Target]


class HypothesisComponents(BaseModel):
    target: float = 0.0
    pathway: float = 0.0


class Hypothesis(BaseModel):
    rank: int
    disease: str
    name: str | None = None
    score: float
    known: bool = Field(description="the drug already TREATS this disease")
    components: HypothesisComponents
    paths: list[EvidencePath]


class HypothesesResponse(Envelope):
    drug: PathNode
    total: int
    offset: int
    limit: int
    hypotheses: list[Hypothesis]


class GeneEvidence(BaseModel):
    kind: Literal["disease", "drug"]
    id: str | None = None
    name: str | None = None
    type: str
    direction: Literal["in", "out"]
    predicted: bool
    score: float | None = None
    source: str | None = None
    source_version: str | None = None
    source_file: str | None = None
    source_predicate: list[str] | str | None = None
    knowledge_level: str | None = None
    agent_type: str | None = None
    evidence: list[str] | str | None = None
    edge_release: str | None = None


class GeneEvidenceResponse(Envelope):
    gene: PathNode
    diseases: int
    drugs: int
    evidence: list[GeneEvidence]


class EnrichmentRequest(BaseModel):
    genes: list[str] = Field(min_length=1, max_length=5000, description="gene symbols or CURIEs (NCBIGene:, HGNC:, ENSEMBL:, UniProtKB:)")
    background: list[str] | None = Field(None, description="background genes; default: every gene annotated to a pathway of the chosen sources")
    sources: list[str] | None = Field(None, description="pathway sources (infores ids), default all")
    min_size: int = Field(5, ge=1)
    max_size: int = Field(500, ge=1)
    max_fdr: float = Field(1.0, gt=0, le=1)
    limit: int = Field(100, ge=1, le=5000)


class EnrichedPathway(BaseModel):
    pathway: str
    name: str | None = None
    k: int = Field(description="query genes in the pathway")
    K: int = Field(description="background genes in the pathway")
    n: int = Field(description="query genes in the background")
    N: int = Field(description="background size")
    expected: float
    fold: float | None = None
    pvalue: float
    fdr: float
    genes: list[str]


class EnrichmentResponse(Envelope):
    resolved: dict[str, str]
    unresolved: list[str]
    background_size: int
    tested: int
    pathways: list[EnrichedPathway]


class QueryRequest(BaseModel):
    cypher: str = Field(min_length=1, max_length=20000)
    params: dict[str, Any] = {}
    limit: int | None = Field(None, ge=1, description="row limit (capped by TARGETKG_QUERY_ROW_LIMIT)")
    timeout_s: float | None = Field(None, gt=0, description="timeout (capped by TARGETKG_QUERY_TIMEOUT_S)")


class QueryResponse(Envelope):
    columns: list[str]
    rows: list[dict[str, Any]]
    row_count: int
    truncated: bool
    elapsed_ms: float


# ------------------------------------------------------------------------------- helpers
class ModelRunSummary(BaseModel):
    id: str
    model: str | None = None
    created_at: str | None = None
    release: str | None = Field(None, description="the warehouse release the model was trained on")
    code_version: str | None = None
    predicted_types: list[str] = Field([], description="PREDICTED_* relationship types the run wrote")
    subjects: int = Field(0, description="drugs/genes the run wrote predictions for")
    params: dict[str, Any] = {}
    metrics: dict[str, Any] = Field({}, description="held-out metrics: {relation: {model or baseline: {auroc_*, auprc_*, mrr, hits_at_10, ...}}}")
    split: dict[str, Any] = {}
    relations: list[str] = Field([], description="the target relations the run held out and was evaluated on")
    epochs: int | None = Field(None, description="maximum training epochs (early stopping may end sooner)")
    export: dict[str, Any] = Field({}, description="the graph it learned from: source, source_version, relations, "
                                                   "edges, entities, checksum")


class RunsResponse(Envelope):
    total: int
    runs: list[ModelRunSummary]


class RunResponse(Envelope):
    run: ModelRunSummary
    predictions: dict[str, int] = Field(description="written predictions per PREDICTED_* type")


class Prediction(BaseModel):
    subject: str
    subject_name: str | None = None
    object: str
    object_name: str | None = None
    type: str
    relation: str | None = Field(None, description="the curated relationship type the model predicts")
    score: float | None = Field(None, description="the model's raw score (comparable within a run)")
    probability: float | None = Field(None, description="calibrated on held-out edges (comparable across runs)")
    rank: int | None = Field(None, description="rank among the subject's (rank_of=subject) or the object's "
                                               "(rank_of=object) predictions in this run")
    rank_of: Literal["subject", "object"] | None = None
    known: bool | None = Field(None, description="a curated edge of the predicted relation already exists")
    run_id: str | None = None
    model: str | None = None
    edge_release: str | None = None
    explanation_paths: list[str] = []
    explanation_contributions: list[float] = []


class PredictionsResponse(Envelope):
    total: int
    offset: int
    limit: int
    predictions: list[Prediction]


class EvidenceSentence(BaseModel):
    pmid: str | None = None
    title: str | None = None
    year: int | None = None
    sentence: str
    probability: float | None = None
    model_version: str | None = None
    relation_type: str | None = Field(None, description="the extractor's relation, e.g. CID or Positive_Correlation")
    relation_types: list[str] = Field(default_factory=list, description="every relation the extractor's models gave "
                                                                         "the sentence's pair (e.g. CID and Positive_Correlation)")


class EdgeWithEvidence(BaseModel):
    type: str
    subject: str
    subject_name: str | None = None
    object: str
    object_name: str | None = None
    kind: Literal["curated", "text_mined", "predicted", "overlay"]
    source: str | None = Field(None, description="primary_knowledge_source (infores id)")
    source_version: str | None = None
    source_file: str | None = None
    source_predicate: list[str] | str | None = None
    knowledge_level: str | None = None
    agent_type: str | None = None
    evidence: list[str] | str | None = Field(None, description="ids / PMIDs the source gives")
    edge_release: str | None = None
    evidence_count: int | None = Field(None, description="text-mined: supporting sentences over all abstracts")
    max_probability: float | None = None
    mean_probability: float | None = None
    model_version: str | None = None
    score: float | None = Field(None, description="predicted: the model's raw score")
    probability: float | None = Field(None, description="predicted: calibrated probability")
    run_id: str | None = None
    overlay_id: str | None = None
    sentences_total: int = Field(0, description="text-mined: evidence sentences in the warehouse")
    sentences: list[EvidenceSentence] = Field([], description="text-mined: the best sentences, most probable first")


class EdgesResponse(Envelope):
    a: PathNode
    b: PathNode
    edges: list[EdgeWithEvidence]


class OverlaySummary(BaseModel):
    id: str
    kind: str | None = None
    method: str | None = None
    created_at: str | None = None
    release: str | None = None
    cohort: str | None = None
    cohort_name: str | None = None
    nodes: int | None = None
    edges: int | None = None
    samples: int = 0
    groups: dict[str, int] = Field({}, description="samples per group label of this overlay (FOR_SAMPLE.group)")
    enrichment: list[dict[str, Any]] = Field(
        [], description="subnetwork overlays: top enriched warehouse pathways {id, name, overlap, set_size, p, q, genes}")
    params: dict[str, Any] = {}


class OverlaysResponse(Envelope):
    total: int
    overlays: list[OverlaySummary]


class OverlayPrediction(BaseModel):
    gene: str
    type: str
    partner: str | None = None
    partner_name: str | None = None
    score: float | None = None
    probability: float | None = None
    rank: int | None = None
    run_id: str | None = None


class OverlayEdgeRow(BaseModel):
    source: str | None = None
    source_name: str | None = None
    target: str | None = None
    target_name: str | None = None
    weight: float | None = None
    posterior: float | None = None
    ecv: float | None = None
    delta_ecv: float | None = None
    mean_ecv_a: float | None = None
    mean_ecv_b: float | None = None
    p_value: float | None = None
    q_value: float | None = None
    direction: str | None = None
    selected: bool | None = None
    curated_types: list[str] = Field([], description="curated relationship types between the two endpoints")
    predictions: list[OverlayPrediction] = Field([], description="PREDICTED_* edges of the endpoints (best first)")


class OverlayEdgesResponse(Envelope):
    overlay: OverlaySummary
    touching: str
    total: int
    offset: int
    limit: int
    edges: list[OverlayEdgeRow]


class ApiProblem(Exception):
    def __init__(self, status: int, title: str, detail: str, **extra):
        self.status, self.title, self.detail, self.extra = status, title, detail, extra


def problem(status: int, title: str, detail: str, headers: dict | None = None, **extra) -> JSONResponse:
    """RFC 9457 problem details."""
    return JSONResponse({"type": "about:blank", "title": title, "status": status, "detail": detail, **extra},
                        status_code=status, media_type=PROBLEM, headers=headers)


_state_lock = threading.Lock()
# (checked at, release, fingerprint): the graph's state, re-read at most once per STATE_CHECK_S
_state: tuple[float, str | None, tuple | None] = (-1e18, None, None)
STATE_CHECK_S = 1.0


def current_state(drv, database: str) -> tuple[str | None, tuple | None]:
    """(release, change fingerprint) of the graph, at most STATE_CHECK_S old. Materialised answers
    are keyed on the fingerprint, so a write (a build, a model's predictions, an overlay) is seen
    by the next request a second later; when it changes the old answers are dropped at once."""
    global _state
    from targetkg.service import queries

    with _state_lock:
        if time.monotonic() - _state[0] < STATE_CHECK_S:
            return _state[1], _state[2]
    rel, fp = queries.graph_state(drv, database)
    with _state_lock:
        if fp != _state[2]:
            from targetkg.service.pathway_index import holder

            holder.recheck()
            _cache.clear()
        _state = (time.monotonic(), rel, fp)
    return rel, fp


def current_release(drv, database: str) -> str | None:
    return current_state(drv, database)[0]


def _fingerprint() -> tuple | None:
    """The fingerprint `_ctx()` just refreshed (a key part of every materialised answer)."""
    return _state[2]


class _Cache:
    """Materialised answers per (request, graph fingerprint), kept at most api_cache_s seconds: the
    warehouse changes only on a load or a write-back, and a changed fingerprint clears them all.
    Least recently used answers go first when it is full."""

    def __init__(self, size: int = 512):
        self.size, self.data, self.lock = size, OrderedDict(), threading.Lock()

    def get(self, key, ttl: float, compute):
        now = time.monotonic()
        with self.lock:
            hit = self.data.get(key)
            if hit and now - hit[0] < ttl:
                self.data.move_to_end(key)
                return hit[1]
        value = compute()
        if value is None or ttl <= 0:  # "not found" is not kept: the next build may add it
            return value
        with self.lock:
            self.data[key] = (now, value)
            self.data.move_to_end(key)
            while len(self.data) > self.size:
                self.data.popitem(last=False)
        return value

    def peek(self, key, ttl: float):
        """The answer if materialised and fresh, else _MISSING (never computes)."""
        with self.lock:
            hit = self.data.get(key)
            if hit and time.monotonic() - hit[0] < ttl:
                self.data.move_to_end(key)
                return hit[1]
        return _MISSING

    def clear(self) -> None:
        with self.lock:
            self.data.clear()


_MISSING = object()


_cache = _Cache()
_ttl_lock = threading.Lock()
_ttl: tuple[float, float] = (-1e18, 0.0)


def _cache_ttl() -> float:
    """TARGETKG_API_CACHE_S, re-read at most once a second (reading all settings costs ~1 ms)."""
    global _ttl
    from targetkg.settings import Settings

    now = time.monotonic()
    with _ttl_lock:
        if now - _ttl[0] < 1.0:
            return _ttl[1]
    value = Settings().api_cache_s
    with _ttl_lock:
        _ttl = (now, value)
    return value


def browser_link(cypher: str) -> str | None:
    s = get_settings()
    if not s.managed:
        return None
    return f"{s.http_url}/browser/?cmd=edit&arg={quote(cypher)}"


def _finite(v: Any) -> Any:
    """JSON has no NaN/Infinity (a metric on an empty test set is NaN): those become null."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_finite(x) for x in v]
    return v


def _relationship_types(types: list[str] | None) -> list[str] | None:
    """`types=A,B` or `types=A&types=B`, checked against the schema's relationship types (plus the
    predicted and overlay types): an unknown type is a 422, not a silently empty answer."""
    from targetkg.graph.schema import load_schema
    from targetkg.service import queries

    wanted = [t for x in types or () for t in x.split(",") if t.strip()]
    if not wanted:
        return None
    wanted = [t.strip() for t in wanted]
    known = set(load_schema().relationships) | set(queries.PREDICTED_TYPES) | {"OVERLAY_EDGE"}
    bad = sorted(set(wanted) - known)
    if bad:
        raise ApiProblem(422, "Unknown relationship type", f"types {bad} are not in the schema; known types: "
                                                          f"{sorted(known)}")
    return wanted


def _lit(v: str) -> str:
    return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _ctx():
    """(driver, database, release) for a request."""
    from targetkg.graph.connection import driver

    s = get_settings()
    drv = driver(s)
    return drv, s.neo4j_database, current_release(drv, s.neo4j_database)


async def _actx():
    """`_ctx()` for async endpoints: the graph state is re-read in a worker thread when it is due."""
    if time.monotonic() - _state[0] < STATE_CHECK_S:
        from targetkg.graph.connection import driver

        s = get_settings()
        return driver(s), s.neo4j_database, _state[1]
    return await run_in_threadpool(_ctx)


async def _materialised(key: tuple, compute):
    """A materialised answer: served from the event loop when present (no thread hop, no GIL
    convoy of worker threads under load), computed in a worker thread when not."""
    ttl = _cache_ttl()
    hit = _cache.peek(key, ttl)
    if hit is not _MISSING:
        return hit
    return await run_in_threadpool(_cache.get, key, ttl, compute)


class ReleaseHeader:
    """Adds X-TargetKG-Release to every response. Plain ASGI: Starlette's @app.middleware("http")
    wraps each response in an extra task and stream, which cost more than a cached /targets answer."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_release(message):
            if message["type"] == "http.response.start" and _state[1]:
                message["headers"] = [*message.get("headers", ()), (b"x-targetkg-release", _state[1].encode())]
            await send(message)

        return await self.app(scope, receive, send_with_release)


# ------------------------------------------------------------------------------- app
def create_app() -> FastAPI:
    app = FastAPI(title="TargetKG hypothesis API", version=__version__,
                  description="Ranked, evidenced target hypotheses from the TargetKG Neo4j warehouse. "
                              "Errors are RFC 9457 `application/problem+json`; every response carries the graph "
                              "release (`release`, header `X-TargetKG-Release`).",
                  responses={503: {"model": Problem, "description": "Neo4j unavailable"}})

    # ---- errors as problem+json
    @app.exception_handler(ApiProblem)
    def _api_problem(request: Request, exc: ApiProblem):
        return problem(exc.status, exc.title, exc.detail, **exc.extra)

    @app.exception_handler(StarletteHTTPException)
    def _http_problem(request: Request, exc: StarletteHTTPException):
        titles = {404: "Not found", 405: "Method not allowed", 401: "Unauthorized"}
        return problem(exc.status_code, titles.get(exc.status_code, "HTTP error"), str(exc.detail),
                       headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    def _validation_problem(request: Request, exc: RequestValidationError):
        errs = exc.errors()
        detail = "; ".join(f"{'.'.join(str(x) for x in e.get('loc', ()))}: {e.get('msg')}" for e in errs)
        return problem(422, "Invalid request", detail,
                       errors=[{"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in errs])

    from neo4j.exceptions import DriverError, Neo4jError
    from targetkg.graph.connection import Neo4jUnavailable

    @app.exception_handler(Neo4jUnavailable)
    def _unavailable_problem(request: Request, exc: Neo4jUnavailable):
        return problem(503, "Neo4j unavailable", str(exc))

    @app.exception_handler(DriverError)
    def _driver_problem(request: Request, exc: DriverError):
        from targetkg.graph.connection import close_all

        close_all()  # the next request reconnects when the server is back
        return problem(503, "Neo4j unavailable", f"{exc.__class__.__name__}: {exc}")

    @app.exception_handler(Neo4jError)
    def _neo4j_problem(request: Request, exc: Neo4jError):
        code = exc.code or ""
        if "TransactionTimedOut" in code or "Terminated" in code:
            return problem(504, "Query timed out", f"Neo4j stopped the query: {exc.message}")
        if code.startswith("Neo.TransientError") or "Unavailable" in code:
            return problem(503, "Neo4j unavailable", f"{code}: {exc.message}")
        return problem(500, "Neo4j error", f"{code}: {exc.message}")

    @app.exception_handler(Exception)
    def _any_problem(request: Request, exc: Exception):
        return problem(500, "Internal error", f"{exc.__class__.__name__}: {exc}")

    app.add_middleware(ReleaseHeader)

    # ---- /health
    @app.get("/health", response_model=Health, responses={503: {"model": Problem, "description": "Neo4j unreachable"}})
    def health(request: Request):
        """Runs a real Cypher query; 503 with the reason when Neo4j cannot answer."""
        from targetkg.graph.connection import Neo4jUnavailable, driver
        from targetkg.service import queries

        settings = get_settings()
        try:
            data = queries.health(driver(settings), settings.neo4j_database)
        except Neo4jUnavailable as exc:
            return problem(503, "Neo4j unavailable", str(exc), neo4j=settings.bolt_uri)
        except Exception as exc:  # noqa: BLE001 - driver errors while the server restarts
            from targetkg.graph.connection import close_all

            close_all()  # the next call reconnects when the server is back
            return problem(503, "Neo4j unavailable", f"{exc.__class__.__name__}: {exc}", neo4j=settings.bolt_uri)
        return Health(status="ok", neo4j=settings.bolt_uri, **data)

    # ---- /search
    @app.get("/search", response_model=SearchResponse, responses={400: {"model": Problem}})
    async def search(q: str = Query(..., min_length=1, max_length=200, description="name, synonym or id; typo-tolerant"),
               label: str | None = Query(None, description="only this node label, e.g. Gene, Disease, Drug, Pathway"),
               limit: int = Query(20, ge=1, le=100)):
        """Full-text search over names, synonyms and ids (`entity_names` index): exact, prefix and fuzzy matches."""
        from targetkg.graph.schema import load_schema
        from targetkg.service import queries

        if label is not None and label not in load_schema().public_labels():
            raise ApiProblem(400, "Unknown label", f"label {label!r} is not one of {', '.join(load_schema().public_labels())}")
        drv, db, rel = await _actx()
        hits = await _materialised(("search", q, label, limit, _fingerprint()),
                                   lambda: queries.search(drv, db, q, limit=limit, label=label))
        return SearchResponse(release=rel, query=q, hits=hits,
                              browser_url=browser_link(queries.BROWSER_SEARCH.format(q=_lit(queries.lucene_query(q)))))

    # ---- /entities/{curie}
    @app.get("/entities/{curie:path}", response_model=EntityResponse, responses={404: {"model": Problem}})
    def entity(curie: str, top: int = Query(5, ge=0, le=50, description="neighbours listed per group")):
        """A node with a summary of its neighbours: counts per relationship type, direction and label, and the first few."""
        from targetkg.service import queries

        drv, db, rel = _ctx()
        node = queries.entity_node(drv, db, curie)
        if node is None:
            raise ApiProblem(404, "Entity not found", f"no node with id {curie!r}; find ids with GET /search?q=...")
        groups = queries.entity_neighbours(drv, db, curie, top)
        props = {k: v for k, v in node.items() if k not in ("label", "labels")}
        return EntityResponse(release=rel, id=node["id"], name=node.get("name"), label=node["label"], labels=node["labels"],
                              properties=queries._jsonable(props), degree=sum(g["count"] for g in groups), neighbours=groups,
                              browser_url=browser_link(queries.BROWSER_ENTITY.format(label=node["label"], id=_lit(curie))))

    # ---- /diseases/{curie}/targets
    @app.get("/diseases/{curie:path}/targets", response_model=TargetsResponse, responses={404: {"model": Problem}})
    async def disease_targets(curie: str,
                        min_score: float = Query(0.0, ge=0.0, le=1.0),
                        sources: list[str] | None = Query(None, description="evidence components to use: association, drug, pathway, predicted"),  # noqa: B008
                        include: Literal["all", "known", "novel"] = Query("all", description="known = curated association or a drug that treats it binds the gene"),
                        limit: int = Query(50, ge=1, le=1000), offset: int = Query(0, ge=0),
                        pathway_min_size: int = Query(5, ge=1), pathway_max_size: int = Query(300, ge=1)):
        """Ranked candidate targets for a disease: curated associations, genes in pathways of the disease genes,
        targets of drugs that treat it, and model predictions (PREDICTED_* edges) merged into one score."""
        from targetkg.service import queries, ranking

        comps_sel = None
        if sources:
            comps_sel = [c for s in sources for c in s.split(",") if c]
            bad = [c for c in comps_sel if c not in ranking.WEIGHTS]
            if bad:
                raise ApiProblem(400, "Unknown evidence source", f"{bad} not in {list(ranking.WEIGHTS)}")
        drv, db, rel = await _actx()

        def compute():
            comps = queries.disease_components(drv, db, curie, pathway_min_size, pathway_max_size)
            if comps is None:
                return None
            ranked = ranking.RankedTargets(comps["disease"], comps, comps_sel)
            # this request's page too, while this thread has the rows at hand (the ranking keeps it)
            ranked.page(min_score, include, offset, limit)
            return comps["disease"], ranked

        found = await _materialised(("targets", curie, tuple(comps_sel or ()), pathway_min_size, pathway_max_size,
                                     _fingerprint()), compute)
        if found is None:
            raise ApiProblem(404, "Disease not found", f"no Disease with id {curie!r}; find ids with GET /search?q=...&label=Disease")
        disease, ranked = found
        total, targets = ranked.page(min_score, include, offset, limit)
        # Built by our own ranking code in the TargetsResponse shape (the schemathesis test checks
        # it against the OpenAPI schema), so it is serialised directly: validating ~1,000 nested
        # path objects twice (once here, once by FastAPI's response_model) cost ~20 ms a request.
        body = {"release": rel, "browser_url": browser_link(queries.BROWSER_DISEASE.format(id=_lit(curie))),
                "disease": disease, "total": total, "offset": offset,
                "limit": limit, "weights": {k: v for k, v in ranking.WEIGHTS.items() if not comps_sel or k in comps_sel},
                "targets": targets}
        return Response(orjson.dumps(body), media_type="application/json")

    # ---- /drugs/{curie}/hypotheses
    @app.get("/drugs/{curie:path}/hypotheses", response_model=HypothesesResponse, responses={404: {"model": Problem}})
    def drug_hypotheses(curie: str, include: Literal["all", "known", "novel"] = Query("novel", description="known = the drug already treats the disease"),
                        min_score: float = Query(0.0, ge=0.0, le=1.0),
                        limit: int = Query(50, ge=1, le=1000), offset: int = Query(0, ge=0),
                        pathway_min_size: int = Query(5, ge=1), pathway_max_size: int = Query(300, ge=1)):
        """Repurposing hypotheses: drug → target → (pathway →) disease, ranked, with the evidence paths."""
        from targetkg.service import queries, ranking

        drv, db, rel = _ctx()
        drug = queries._read(drv, db, queries.DRUG, {"drug": curie})
        if not drug:
            raise ApiProblem(404, "Drug not found", f"no Drug with id {curie!r}; find ids with GET /search?q=...&label=Drug")
        all_ranked = _cache.get(("drug", curie, pathway_min_size, pathway_max_size, _fingerprint()), _cache_ttl(),
                                lambda: ranking.rank_drug_hypotheses(drug[0], queries.drug_components(
                                    drv, db, curie, pathway_min_size, pathway_max_size)))
        ranked = [h for h in all_ranked
                  if h["score"] >= min_score and (include == "all" or (include == "known") == h["known"])]
        return HypothesesResponse(release=rel, drug=PathNode(**drug[0]), total=len(ranked), offset=offset, limit=limit,
                                  hypotheses=ranked[offset:offset + limit],
                                  browser_url=browser_link(queries.BROWSER_DRUG.format(id=_lit(curie))))

    # ---- /genes/{curie}/evidence
    @app.get("/genes/{curie:path}/evidence", response_model=GeneEvidenceResponse, responses={404: {"model": Problem}})
    def gene_evidence(curie: str, types: list[str] | None = Query(None, description="only these relationship types")):  # noqa: B008
        """Every edge linking a gene (CURIE, symbol or xref) to diseases and drugs, curated and predicted, with provenance."""
        from targetkg.service import queries

        drv, db, rel = _ctx()
        gene, rows = queries.gene_evidence(drv, db, curie, _relationship_types(types))
        if gene is None:
            raise ApiProblem(404, "Gene not found", f"no Gene with id, symbol or xref {curie!r}")
        ev = [GeneEvidence(**{**r, "edge_release": r.pop("release")}) for r in rows]
        return GeneEvidenceResponse(release=rel, gene=PathNode(id=gene["id"], name=gene["name"]),
                                    diseases=len({e.id for e in ev if e.kind == "disease"}),
                                    drugs=len({e.id for e in ev if e.kind == "drug"}), evidence=ev,
                                    browser_url=browser_link(queries.BROWSER_GENE.format(id=_lit(gene["id"]))))

    # ---- /enrichment
    @app.post("/enrichment", response_model=EnrichmentResponse, responses={400: {"model": Problem}})
    def enrichment(req: EnrichmentRequest):
        """Pathway over-representation of a gene list: hypergeometric test, Benjamini–Hochberg FDR (TargetMine-style)."""
        from targetkg.service import queries, ranking

        drv, db, rel = _ctx()
        res = queries.resolve_genes(drv, db, list(dict.fromkeys(req.genes)))
        resolved = {r["term"]: r["id"] for r in res if r["id"]}
        unresolved = [r["term"] for r in res if not r["id"]]
        if not resolved:
            raise ApiProblem(400, "No known genes", f"none of the {len(req.genes)} genes is in the warehouse: {unresolved[:10]}")
        if req.background:
            bres = queries.resolve_genes(drv, db, list(dict.fromkeys(req.background)))
            background = {r["id"] for r in bres if r["id"]}
        else:
            background = set(_cache.get(("annotated", tuple(req.sources or ()), _fingerprint()), 3600.0,
                                        lambda: queries.annotated_genes(drv, db, req.sources)))
        query_ids = set(resolved.values())
        hit_pw = queries.gene_pathways(drv, db, sorted(query_ids & background), req.sources)
        members = queries.pathway_members(drv, db, [r["pathway"] for r in hit_pw], req.sources)
        names = {r["pathway"]: r["name"] for r in hit_pw}
        rows = ranking.enrichment(query_ids, background, {p: (names[p], set(m)) for p, m in members.items()},
                                  req.min_size, req.max_size)
        rows = [r for r in rows if r["fdr"] <= req.max_fdr][: req.limit]
        return EnrichmentResponse(release=rel, resolved=resolved, unresolved=unresolved, background_size=len(background),
                                  tested=len(members), pathways=rows)

    # ---- /runs, /runs/{id}, /predictions
    def _run_summary(row: dict) -> ModelRunSummary:
        import json as _json

        props = dict(row["run"])

        def parsed(key: str) -> dict:
            try:
                value = _json.loads(props.get(key) or "{}")
            except (TypeError, ValueError):
                return {}
            return _finite(value) if isinstance(value, dict) else {}

        types = row.get("types") or [t for t in ("PREDICTED_TREATS", "PREDICTED_TARGETS", "PREDICTED_ASSOCIATED_WITH")
                                     if row.get(t)]
        return ModelRunSummary(id=props["id"], model=props.get("model"), created_at=props.get("created_at"),
                               release=props.get("release"), code_version=props.get("code_version"),
                               predicted_types=sorted(types), subjects=int(row.get("subjects") or 0),
                               params=parsed("params"), metrics=parsed("metrics"), split=parsed("split"),
                               relations=list(props.get("relations") or []), epochs=props.get("epochs"),
                               export=parsed("export"))

    @app.get("/runs", response_model=RunsResponse)
    def model_runs(model: str | None = Query(None, description="only runs of this model (e.g. rgcn, rotate)")):
        """Model runs written back to the warehouse, newest first, with their held-out metrics (baselines included)."""
        from targetkg.service import queries

        drv, db, rel = _ctx()
        runs = [_run_summary(r) for r in queries.runs(drv, db)]
        if model:
            runs = [r for r in runs if (r.model or "").lower() == model.lower()]
        return RunsResponse(release=rel, total=len(runs), runs=runs,
                            browser_url=browser_link("MATCH (m:ModelRun) RETURN m ORDER BY m.created_at DESC"))

    @app.get("/runs/{run_id}", response_model=RunResponse, responses={404: {"model": Problem}})
    def model_run(run_id: str):
        """One model run: parameters, split, held-out metrics and how many predictions it wrote per type."""
        from targetkg.service import queries

        drv, db, rel = _ctx()
        row = queries.run(drv, db, run_id)
        if row is None:
            raise ApiProblem(404, "Model run not found", f"no ModelRun with id {run_id!r}; list runs with GET /runs")
        counts = {t: int(row[t]) for t in queries.PREDICTED_TYPES}
        return RunResponse(release=rel, run=_run_summary(row), predictions=counts,
                           browser_url=browser_link(f"MATCH p=(:ModelRun {{id: {_lit(run_id)}}})-[:PREDICTED_FOR]->() RETURN p LIMIT 50"))

    @app.get("/predictions", response_model=PredictionsResponse, responses={400: {"model": Problem}, 404: {"model": Problem}})
    def list_predictions(run: str | None = Query(None, description="a ModelRun id (GET /runs)"),
                         relation: str | None = Query(None, description="TREATS, DIRECTLY_PHYSICALLY_INTERACTS_WITH, GENE_ASSOCIATED_WITH_CONDITION or a PREDICTED_* type; default all"),
                         subject: str | None = Query(None, description="drug or gene CURIE"),
                         object: str | None = Query(None, description="disease or gene CURIE"),
                         min_score: float | None = Query(None, description="raw model score (comparable within one run)"),
                         min_probability: float = Query(0.0, ge=0.0, le=1.0, description="calibrated probability"),
                         include: Literal["all", "known", "novel"] = Query("all", description="known = a curated edge already exists"),
                         order_by: Literal["score", "probability"] = Query("score"),
                         limit: int = Query(50, ge=1, le=1000), offset: int = Query(0, ge=0)):
        """Written-back predictions (PREDICTED_* edges), filtered by run, relation, endpoint and score, best first,
        with their explanation paths."""
        from targetkg.service import queries

        if relation:
            ptype = queries.predicted_type(relation)
            if ptype is None:
                raise ApiProblem(400, "Unknown relation", f"{relation!r} is not predicted by any model; use one of "
                                                          f"{sorted(queries.PREDICTED_TYPES)} or the curated types they predict")
            types = [ptype]
        else:
            types = sorted(queries.PREDICTED_TYPES)
        drv, db, rel = _ctx()
        if run and queries.run(drv, db, run) is None:
            raise ApiProblem(404, "Model run not found", f"no ModelRun with id {run!r}; list runs with GET /runs")
        known = None if include == "all" else include == "known"
        total, rows = queries.predictions(drv, db, types, run_id=run, subject=subject, object_=object, known=known,
                                          min_score=min_score, min_probability=min_probability, order_by=order_by,
                                          limit=limit, offset=offset)
        preds = [Prediction(**{**r, "edge_release": r.pop("release"),
                               "explanation_paths": r.get("explanation_paths") or [],
                               "explanation_contributions": r.get("explanation_contributions") or []}) for r in rows]
        example = (f"MATCH p=(s)-[r:{types[0]}]->(o) WHERE r.run_id = {_lit(run)} RETURN p ORDER BY r.score DESC LIMIT 25"
                   if run else f"MATCH p=(s)-[r:{types[0]}]->(o) RETURN p ORDER BY r.probability DESC LIMIT 25")
        return PredictionsResponse(release=rel, total=total, offset=offset, limit=limit, predictions=preds,
                                   browser_url=browser_link(example))

    # ---- /edges
    @app.get("/edges", response_model=EdgesResponse, responses={404: {"model": Problem}})
    def edges(a: str = Query(..., description="a node CURIE"), b: str = Query(..., description="another node CURIE"),
              types: list[str] | None = Query(None, description="only these relationship types"),  # noqa: B008
              sentences: int = Query(10, ge=0, le=200, description="evidence sentences listed per text-mined edge")):
        """Every edge between two entities (either direction) with its provenance: curated, predicted, overlay and
        text-mined edges, the last with the sentences and PMIDs behind them (most probable first)."""
        from targetkg.service import queries

        drv, db, rel = _ctx()
        ends = []
        for curie in (a, b):
            node = queries.entity_node(drv, db, curie)
            if node is None:
                raise ApiProblem(404, "Entity not found", f"no node with id {curie!r}; find ids with GET /search?q=...")
            ends.append(PathNode(id=node["id"], name=node.get("name")))
        rows = queries.edges_between(drv, db, a, b, _relationship_types(types), sentences)
        out = []
        for r in rows:
            p = r["props"]
            kind = ("overlay" if r["type"] == "OVERLAY_EDGE" else "predicted" if r["type"] in queries.PREDICTED_TYPES
                    else "text_mined" if p.get("agent_type") == "text_mining_agent" else "curated")
            out.append(EdgeWithEvidence(
                type=r["type"], subject=r["subject"], subject_name=r["subject_name"], object=r["object"],
                object_name=r["object_name"], kind=kind, source=p.get("primary_knowledge_source"),
                source_version=p.get("source_version"), source_file=p.get("source_file"),
                source_predicate=p.get("source_predicate"), knowledge_level=p.get("knowledge_level"),
                agent_type=p.get("agent_type"), evidence=p.get("evidence"), edge_release=p.get("release"),
                evidence_count=p.get("evidence_count"), max_probability=p.get("max_probability"),
                mean_probability=p.get("mean_probability"), model_version=p.get("model_version"),
                score=p.get("score"), probability=p.get("probability"), run_id=p.get("run_id"),
                overlay_id=p.get("overlay_id"), sentences_total=r["sentences_total"],
                sentences=[EvidenceSentence(**x) for x in r["sentences"]]))
        return EdgesResponse(release=rel, a=ends[0], b=ends[1], edges=out, browser_url=browser_link(
            f"MATCH p=({{id: {_lit(a)}}})-[r]-({{id: {_lit(b)}}}) RETURN p UNION "
            f"MATCH p=({{id: {_lit(a)}}})<-[:HAS_SUBJECT|HAS_OBJECT]-(:Evidence)-[:HAS_SUBJECT|HAS_OBJECT]->({{id: {_lit(b)}}}) "
            "RETURN p"))

    # ---- /overlays, /overlays/{id}/edges
    @app.get("/overlays", response_model=OverlaysResponse)
    def list_overlays(kind: Literal["basal_network", "delta_ecv_subnetwork", "sample_subnetwork",
                                    "knockdown_simulation"] | None = Query(None, description="only overlays of this kind"),
                      cohort: str | None = Query(None, description="a Cohort id or name"),
                      gene: str | None = Query(None, description="only overlays that include this gene (CURIE or symbol)")):
        """Bayesian-network overlays laid over the warehouse (`targetkg bn overlay`), newest first."""
        from targetkg.service import queries

        drv, db, rel = _ctx()
        rows = queries.overlays(drv, db, kind=kind, cohort=cohort, gene=gene)
        return OverlaysResponse(release=rel, total=len(rows), overlays=[OverlaySummary(**r) for r in rows],
                                browser_url=browser_link("MATCH (o:Overlay) OPTIONAL MATCH p=(o)-[:FOR_COHORT]->() "
                                                         "RETURN o, p ORDER BY o.created_at DESC"))

    @app.get("/overlays/{overlay_id}/edges", response_model=OverlayEdgesResponse, responses={404: {"model": Problem}})
    def overlay_edges(overlay_id: str,
                      touching: Literal["any", "predicted_target", "curated_edge", "novel"] = Query(
                          "any", description="predicted_target: an endpoint gene has a PREDICTED_* edge (to `disease`, "
                                             "when given); curated_edge: a curated edge links the endpoints; novel: none does"),
                      disease: str | None = Query(None, description="list only the predictions for this Disease CURIE (with "
                                                                     "touching=predicted_target: only edges of its predicted genes)"),
                      gene: str | None = Query(None, description="only edges of this gene (CURIE or symbol)"),
                      selected: bool | None = Query(None, description="only edges selected (true) or not (false) by the ΔECv test"),
                      max_q: float | None = Query(None, gt=0, le=1, description="ΔECv q-value at most"),
                      min_posterior: float | None = Query(None, ge=0, le=1),
                      limit: int = Query(100, ge=1, le=5000), offset: int = Query(0, ge=0)):
        """An overlay's edges, strongest first (|ΔECv|, else |weight|), each with the curated relationship types
        between its endpoints and the model predictions of its genes: e.g. the edges of a patient subnetwork that
        touch a predicted target of a disease."""
        from targetkg.service import queries

        drv, db, rel = _ctx()
        found = queries.overlays(drv, db, overlay=overlay_id)
        if not found:
            raise ApiProblem(404, "Overlay not found", f"no Overlay with id {overlay_id!r}; list them with GET /overlays")
        if disease is not None and queries.entity_node(drv, db, disease) is None:
            raise ApiProblem(404, "Disease not found", f"no node with id {disease!r}; find ids with GET /search?q=...&label=Disease")
        total, rows = queries.overlay_edges(drv, db, overlay_id, touching=touching, disease=disease, gene=gene,
                                            selected=selected, max_q=max_q, min_posterior=min_posterior,
                                            limit=limit, offset=offset)
        own = ("source", "source_name", "target", "target_name", "curated_types", "predictions")
        fields = set(OverlayEdgeRow.model_fields) - set(own)  # edge properties: weight, posterior, ΔECv, ...
        edges = [OverlayEdgeRow(**{k: v for k, v in _finite(r["props"]).items() if k in fields},
                                **{k: r[k] for k in ("source", "source_name", "target", "target_name", "curated_types")},
                                predictions=r["predictions"]) for r in rows]
        return OverlayEdgesResponse(
            release=rel, overlay=OverlaySummary(**found[0]), touching=touching, total=total, offset=offset, limit=limit,
            edges=edges,
            browser_url=browser_link(f"MATCH p=()-[e:OVERLAY_EDGE {{overlay_id: {_lit(overlay_id)}}}]->() RETURN p LIMIT 200"))

    # ---- /query
    @app.post("/query", response_model=QueryResponse,
              responses={400: {"model": Problem}, 401: {"model": Problem}, 403: {"model": Problem}, 504: {"model": Problem}})
    def user_query(req: QueryRequest, x_api_key: str | None = Header(None),
                   authorization: str | None = Header(None)):
        """Run a read-only Cypher query (API key in `X-API-Key` or `Authorization: Bearer`). Writes, admin commands,
        procedures off the allow-list and multi-statement requests are refused before execution; the query runs in a
        READ transaction with a server-side timeout and a row limit."""
        from targetkg.service import queries
        from targetkg.service.readonly import RefusedQuery, check_cypher

        from targetkg.settings import (
            Settings as api_settings,  # re-read per call: rotating a key needs no restart
        )

        cfg = api_settings()
        key = x_api_key or (authorization[7:].strip() if authorization and authorization.lower().startswith("bearer ") else None)
        if not cfg.api_keys:
            raise ApiProblem(401, "Unauthorized", "POST /query needs an API key and none is configured on the server "
                                                  "(set TARGETKG_API_KEYS)")
        if not key:
            raise ApiProblem(401, "Unauthorized", "missing API key: send it in the X-API-Key header")
        if not any(hmac.compare_digest(key.encode(), k.encode()) for k in cfg.api_keys):
            raise ApiProblem(401, "Unauthorized", "wrong API key")
        try:
            cypher = check_cypher(req.cypher)
        except RefusedQuery as exc:
            raise ApiProblem(403, "Query refused", str(exc)) from None
        drv, db, rel = _ctx()
        from neo4j.exceptions import ClientError

        try:
            qtype = queries.explain_query_type(drv, db, cypher, req.params)
        except ClientError as exc:
            raise ApiProblem(400, "Invalid Cypher", f"{exc.code}: {exc.message}") from None
        if qtype != "r":
            raise ApiProblem(403, "Query refused", f"the query plan is not read-only (query type {qtype!r}): /query is read-only")
        timeout = min(req.timeout_s or cfg.query_timeout_s, cfg.query_timeout_s)
        limit = min(req.limit or cfg.query_row_limit, cfg.query_row_limit)
        t0 = time.perf_counter()
        try:
            cols, rows, truncated = queries.run_read_only(drv, db, cypher, req.params, timeout, limit)
        except ClientError as exc:
            code = exc.code or ""
            if "TransactionTimedOut" in code or "Terminated" in code:
                raise ApiProblem(504, "Query timed out", f"the query ran past the {timeout:g} s timeout and was stopped "
                                                         f"({code})", timeout_s=timeout) from None
            if "AccessMode" in code or "Forbidden" in code or "Security" in code:
                raise ApiProblem(403, "Query refused", f"{code}: {exc.message}") from None
            raise ApiProblem(400, "Cypher error", f"{code}: {exc.message}") from None
        except Exception as exc:
            code = getattr(exc, "code", "") or ""
            if "TransactionTimedOut" in code or "Terminated" in code:
                raise ApiProblem(504, "Query timed out", f"the query ran past the {timeout:g} s timeout and was stopped "
                                                         f"({code})", timeout_s=timeout) from None
            raise
        return QueryResponse(release=rel, columns=cols, rows=rows, row_count=len(rows), truncated=truncated,
                             elapsed_ms=round((time.perf_counter() - t0) * 1000, 1), browser_url=browser_link(cypher))

    return app


app = create_app()
