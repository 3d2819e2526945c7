"""Notebook client for the TargetKG hypothesis API.

    from targetkg.client import Client
    kg = Client("http://127.0.0.1:8000", api_key="...")
    kg.targets("DOID:363").head()
    kg.hypotheses("DRUGBANK:DB00997")
    kg.enrichment(["BRCA1", "BRCA2", "RAD51"])
    kg.query("MATCH (d:Disease {id: $id}) RETURN d.name AS name", id="DOID:363")
    kg.runs()                                   # model runs and their held-out metrics
    kg.predictions(run="rgcn-s0-...", relation="TREATS", include="novel")
    kg.edges("DRUGBANK:DB00997", "DOID:0050700")  # doxorubicin, cardiomyopathy: every edge, text-mined ones with sentences
    kg.overlays(cohort="GSE10072")               # Bayesian-network overlays
    kg.overlay_edges("gse10072-delta-tumor-vs-non-tumor", touching="predicted_target", disease="DOID:1324")

Every table method returns a pandas DataFrame; the graph release is in `df.attrs["release"]`.
Errors from the API (RFC 9457 problem+json) raise `TargetKGError` with the server's message.
"""

from __future__ import annotations

import time
from urllib.parse import quote
from typing import Any

import httpx
import pandas as pd


def _path(value: str) -> str:
    """A CURIE or id as one URL path segment: '#', '?', '%' and spaces must not end the path."""
    return quote(value, safe=":@")


class TargetKGError(RuntimeError):
    """The API answered with an error (status, title and detail from the problem+json body)."""

    def __init__(self, status: int, title: str, detail: str, url: str):
        super().__init__(f"{status} {title}: {detail} ({url})")
        self.status, self.title, self.detail, self.url = status, title, detail, url


class Client:
    def __init__(self, base_url: str = "http://127.0.0.1:8000", api_key: str | None = None, timeout: float = 60.0,
                 retries: int = 3, backoff_s: float = 0.5, transport: httpx.BaseTransport | None = None):
        headers = {"Accept": "application/json"}
        if api_key:
            headers["X-API-Key"] = api_key
        self.retries, self.backoff_s = retries, backoff_s
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout, transport=transport)

    # ---- plumbing
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:  # noqa: PYI034
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _request(self, method: str, path: str, **kw) -> dict[str, Any]:
        """JSON body of a successful answer; retries connection errors and 502/503/504 (not 4xx)."""
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            try:
                resp = self._http.request(method, path, **kw)
            except (httpx.ConnectError, httpx.ReadTimeout, httpx.RemoteProtocolError) as exc:
                last = exc
            else:
                if resp.status_code < 400:
                    return resp.json()
                retryable = resp.status_code in (502, 503) or (resp.status_code == 504 and path != "/query")
                if not retryable or attempt == self.retries:
                    raise self._error(resp)
                last = self._error(resp)
            if attempt < self.retries:
                time.sleep(self.backoff_s * 2 ** attempt)
        if isinstance(last, TargetKGError):
            raise last
        raise TargetKGError(0, "Connection failed", f"{last.__class__.__name__}: {last}", str(self._http.base_url) + path)

    @staticmethod
    def _error(resp: httpx.Response) -> TargetKGError:
        try:
            body = resp.json()
            title, detail = body.get("title", resp.reason_phrase), body.get("detail", resp.text)
        except ValueError:
            title, detail = resp.reason_phrase, resp.text[:500]
        return TargetKGError(resp.status_code, title, detail, str(resp.url))

    @staticmethod
    def _frame(rows: list[dict], body: dict, columns: list[str] | None = None) -> pd.DataFrame:
        df = pd.DataFrame(rows, columns=columns) if columns or not rows else pd.DataFrame(rows)
        df.attrs["release"] = body.get("release")
        df.attrs["browser_url"] = body.get("browser_url")
        return df

    # ---- endpoints
    def health(self) -> dict[str, Any]:
        return self._request("GET", "/health")

    def search(self, q: str, label: str | None = None, limit: int = 20) -> pd.DataFrame:
        params = {"q": q, "limit": limit, **({"label": label} if label else {})}
        body = self._request("GET", "/search", params=params)
        return self._frame(body["hits"], body, ["id", "name", "label", "synonyms", "score", "match"])

    def entity(self, curie: str, top: int = 5) -> dict[str, Any]:
        return self._request("GET", f"/entities/{_path(curie)}", params={"top": top})

    def targets(self, disease: str, min_score: float = 0.0, sources: list[str] | None = None,
                include: str = "all", limit: int = 50, offset: int = 0, pathway_min_size: int = 5,
                pathway_max_size: int = 300) -> pd.DataFrame:
        """Ranked targets: one row per gene, component scores as columns, evidence paths in `paths`."""
        params: dict[str, Any] = {"min_score": min_score, "include": include, "limit": limit, "offset": offset,
                                  "pathway_min_size": pathway_min_size, "pathway_max_size": pathway_max_size}
        if sources:
            params["sources"] = sources
        body = self._request("GET", f"/diseases/{_path(disease)}/targets", params=params)
        rows = [{"rank": t["rank"], "gene": t["gene"], "symbol": t["symbol"], "score": t["score"], "known": t["known"],
                 **t["components"], "paths": t["paths"]} for t in body["targets"]]
        df = self._frame(rows, body, ["rank", "gene", "symbol", "score", "known", "association", "drug", "pathway",
                                      "predicted", "paths"])
        df.attrs["total"] = body["total"]
        return df

    def hypotheses(self, drug: str, include: str = "novel", min_score: float = 0.0, limit: int = 50,
                   offset: int = 0, pathway_min_size: int = 5, pathway_max_size: int = 300) -> pd.DataFrame:
        body = self._request("GET", f"/drugs/{_path(drug)}/hypotheses",
                             params={"include": include, "min_score": min_score, "limit": limit, "offset": offset,
                                     "pathway_min_size": pathway_min_size, "pathway_max_size": pathway_max_size})
        rows = [{"rank": h["rank"], "disease": h["disease"], "name": h["name"], "score": h["score"], "known": h["known"],
                 **h["components"], "paths": h["paths"]} for h in body["hypotheses"]]
        df = self._frame(rows, body, ["rank", "disease", "name", "score", "known", "target", "pathway", "paths"])
        df.attrs["total"] = body["total"]
        return df

    def gene_evidence(self, gene: str, types: list[str] | None = None) -> pd.DataFrame:
        body = self._request("GET", f"/genes/{_path(gene)}/evidence", params={"types": types} if types else None)
        return self._frame(body["evidence"], body)

    def enrichment(self, genes: list[str], background: list[str] | None = None, sources: list[str] | None = None,
                   min_size: int = 5, max_size: int = 500, max_fdr: float = 1.0, limit: int = 100) -> pd.DataFrame:
        body = self._request("POST", "/enrichment", json={"genes": list(genes), "background": background, "sources": sources,
                                                          "min_size": min_size, "max_size": max_size, "max_fdr": max_fdr,
                                                          "limit": limit})
        df = self._frame(body["pathways"], body, ["pathway", "name", "k", "K", "n", "N", "expected", "fold", "pvalue",
                                                   "fdr", "genes"])
        df.attrs["unresolved"] = body["unresolved"]
        return df

    def query(self, cypher: str, params: dict[str, Any] | None = None, *, limit: int | None = None,
              timeout_s: float | None = None, **kw_params: Any) -> pd.DataFrame:
        """Read-only Cypher through POST /query (needs an API key). `$name` parameters as a dict
        (`params`, which may hold any name, `limit` included) or as keyword arguments."""
        body = self._request("POST", "/query", json={"cypher": cypher, "params": {**(params or {}), **kw_params},
                                                     "limit": limit, "timeout_s": timeout_s})
        df = self._frame(body["rows"], body, body["columns"])
        df.attrs["truncated"] = body["truncated"]
        return df

    def runs(self, model: str | None = None) -> pd.DataFrame:
        """Model runs, newest first: one row per (run, relation, evaluated model) with the held-out metrics as
        columns, so a run's model sits beside its degree and path-count baselines (`is_run_model`)."""
        body = self._request("GET", "/runs", params={"model": model} if model else None)
        rows = []
        for run in body["runs"]:
            base = {"run_id": run["id"], "model": run["model"], "created_at": run["created_at"],
                    "release": run["release"], "predicted_types": run["predicted_types"], "subjects": run["subjects"]}
            for relation, by_model in (run.get("metrics") or {}).items():
                for evaluated, metrics in by_model.items():
                    flat = {k: v for k, v in metrics.items() if not isinstance(v, (dict, list))}
                    rows.append({**base, "relation": relation, "evaluated": evaluated,
                                 "is_run_model": evaluated == run["model"], **flat})
            if not run.get("metrics"):
                rows.append({**base, "relation": None, "evaluated": None, "is_run_model": None})
        df = self._frame(rows, body, None if rows else ["run_id", "model", "created_at", "release", "predicted_types",
                                                        "subjects", "relation", "evaluated", "is_run_model"])
        df.attrs["runs"] = body["runs"]
        return df

    def edges(self, a: str, b: str, types: list[str] | None = None, sentences: int = 10) -> pd.DataFrame:
        """Every edge between two entities with its provenance; text-mined edges carry their evidence
        sentences (`sentences`: a list of {pmid, title, year, sentence, probability, model_version})."""
        params: dict[str, Any] = {"a": a, "b": b, "sentences": sentences, **({"types": types} if types else {})}
        body = self._request("GET", "/edges", params=params)
        return self._frame(body["edges"], body, [
            "type", "subject", "subject_name", "object", "object_name", "kind", "source", "source_version",
            "source_file", "source_predicate", "knowledge_level", "agent_type", "evidence", "edge_release",
            "evidence_count", "max_probability", "mean_probability", "model_version", "score", "probability", "run_id",
            "overlay_id", "sentences_total", "sentences"])

    def overlays(self, kind: str | None = None, cohort: str | None = None, gene: str | None = None) -> pd.DataFrame:
        """Bayesian-network overlays, newest first."""
        params = {k: v for k, v in (("kind", kind), ("cohort", cohort), ("gene", gene)) if v is not None}
        body = self._request("GET", "/overlays", params=params)
        return self._frame(body["overlays"], body, ["id", "kind", "method", "created_at", "release", "cohort",
                                                    "cohort_name", "nodes", "edges", "samples", "params"])

    def overlay_edges(self, overlay_id: str, touching: str = "any", disease: str | None = None,
                      gene: str | None = None, selected: bool | None = None, max_q: float | None = None,
                      min_posterior: float | None = None, limit: int = 100, offset: int = 0) -> pd.DataFrame:
        """An overlay's edges, strongest first, with the curated types between their endpoints and the
        predictions of their genes; `touching="predicted_target"` keeps edges of predicted targets
        (of `disease`, when given), `"curated_edge"` / `"novel"` those a curated edge backs / does not."""
        params: dict[str, Any] = {"touching": touching, "limit": limit, "offset": offset}
        for key, value in (("disease", disease), ("gene", gene), ("selected", selected), ("max_q", max_q),
                           ("min_posterior", min_posterior)):
            if value is not None:
                params[key] = str(value).lower() if isinstance(value, bool) else value
        body = self._request("GET", f"/overlays/{_path(overlay_id)}/edges", params=params)
        df = self._frame(body["edges"], body, ["source", "source_name", "target", "target_name", "weight", "posterior",
                                               "ecv", "delta_ecv", "mean_ecv_a", "mean_ecv_b", "p_value", "q_value",
                                               "direction", "selected", "curated_types", "predictions"])
        df.attrs["total"] = body["total"]
        df.attrs["overlay"] = body["overlay"]
        return df

    def run(self, run_id: str) -> dict[str, Any]:
        """One model run: params, split, metrics and the number of predictions written per type."""
        return self._request("GET", f"/runs/{_path(run_id)}")

    def predictions(self, run: str | None = None, relation: str | None = None, subject: str | None = None,
                    object: str | None = None, min_score: float | None = None, min_probability: float = 0.0,
                    include: str = "all", order_by: str = "score", limit: int = 50, offset: int = 0) -> pd.DataFrame:
        """Written-back predictions (PREDICTED_* edges), best first, with explanation paths."""
        params: dict[str, Any] = {"min_probability": min_probability, "include": include, "order_by": order_by,
                                  "limit": limit, "offset": offset}
        for key, value in (("run", run), ("relation", relation), ("subject", subject), ("object", object),
                           ("min_score", min_score)):
            if value is not None:
                params[key] = value
        body = self._request("GET", "/predictions", params=params)
        df = self._frame(body["predictions"], body, ["subject", "subject_name", "object", "object_name", "type",
                                                     "relation", "score", "probability", "rank", "known", "run_id",
                                                     "model", "edge_release", "explanation_paths",
                                                     "explanation_contributions"])
        df.attrs["total"] = body["total"]
        return df
