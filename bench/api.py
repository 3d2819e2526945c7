"""API benchmark: latency (p50/p95/p99) and throughput of the hypothesis API against the dev warehouse.

Runs the API under uvicorn in a separate process on a loopback port (the default settings: your
managed dev Neo4j, or NEO4J_URI) and drives it with 1, 8 and 32 concurrent httpx clients:

  targets   GET /diseases/{curie}/targets?limit=50, rotating over diseases that have TREATS and
            GENE_ASSOCIATED_WITH_CONDITION edges; the API's result cache is OFF (TARGETKG_API_CACHE_S=0)
            so every request runs its four Cypher queries, like the baseline
  search    GET /search?q=..., rotating over names with typos
  driver    the same data work as /targets through the Neo4j driver directly (its three Cypher
            queries plus the in-memory pathway index; no HTTP, no ranking), same concurrency:
            the baseline for the API's overhead
  cypher    all four components as Cypher through the driver (the pathway component as the
            reference Cypher query, which the index replaced), 1 client: what it cost before
  cached    /targets with the result cache on, 8 clients (what a notebook sees on a repeated call)

Options: --requests N (per concurrency level and endpoint, default 48), --levels 1,8,32,
--workers N (API worker processes, as `targetkg serve --workers N`; default 1).
Last line: one JSON object with targets_p50_ms, targets_p99_ms, targets_rps_32, search_p99_ms,
overhead_vs_driver (API p50 / driver p50 at 1 client) and the rest of the figures; p50 figures
without a suffix are at 1 client, targets_p99_ms is at the highest level (32 clients).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

SEARCHES = ["uterin cancr", "BRCA1", "breast cancer", "doxorubicn", "DNA repair", "ESR1", "hypertensoin", "insulin",
            "DOID:1612", "kinase"]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def run_level(fn, items: list, clients: int, n: int) -> dict:
    lat: list[float] = []
    errors = 0

    def one(i):
        nonlocal errors
        t0 = time.perf_counter()
        ok = fn(items[i % len(items)])
        dt = (time.perf_counter() - t0) * 1000
        if not ok:
            errors += 1
        lat.append(dt)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(n)))
    wall = time.perf_counter() - t0
    return {"clients": clients, "requests": n, "errors": errors, "p50_ms": round(pct(lat, .5), 1),
            "p95_ms": round(pct(lat, .95), 1), "p99_ms": round(pct(lat, .99), 1), "rps": round(n / wall, 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=48)
    ap.add_argument("--levels", default="1,8,32")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (targetkg serve --workers)")
    args = ap.parse_args()
    levels = [int(x) for x in args.levels.split(",")]

    import httpx
    from targetkg.graph.connection import driver
    from targetkg.service import queries
    
    from targetkg.settings import get_settings

    s = get_settings()
    drv = driver(s)
    db = s.neo4j_database
    recs, _, _ = drv.execute_query(
        "MATCH (d:Disease) WHERE EXISTS { (d)<-[:TREATS]-() } AND EXISTS { (d)<-[:GENE_ASSOCIATED_WITH_CONDITION]-() } "
        "RETURN d.id AS id ORDER BY COUNT { (d)<-[:GENE_ASSOCIATED_WITH_CONDITION]-() } LIMIT 20", database_=db)
    diseases = [r["id"] for r in recs]
    if not diseases:
        sys.exit("the warehouse has no disease with TREATS and GENE_ASSOCIATED_WITH_CONDITION edges: run `targetkg build`")

    def start_server(cache_s: str):
        """The API in its own process (its own GIL), as `targetkg serve` runs it."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = {**os.environ, "TARGETKG_API_CACHE_S": cache_s}
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "targetkg.service.app:app", "--host", "127.0.0.1",
                                 "--port", str(port), "--log-level", "warning", "--workers", str(args.workers)], env=env)
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120,
                              limits=httpx.Limits(max_connections=64, max_keepalive_connections=64))
        deadline = time.monotonic() + 60
        while True:
            try:
                client.get("/health").raise_for_status()
                return proc, client
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    proc.kill()
                    sys.exit("the API server did not start")
                time.sleep(0.2)

    proc, http = start_server("0")
    cached_proc, cached_http = start_server("300")

    def api_targets(d):
        return http.get(f"/diseases/{d}/targets", params={"limit": 50}).status_code == 200

    def api_search(q):
        return http.get("/search", params={"q": q, "limit": 20}).status_code == 200

    def drv_targets(d):
        queries.disease_components(drv, db, d)
        return True

    def cypher_targets(d):
        queries.disease_components(drv, db, d, use_index=False)
        return True

    # warm-up: page cache, query plans, and the pathway index of each process (loaded on first use)
    for d in diseases:
        drv_targets(d)
        api_targets(d)
    for q in SEARCHES:
        api_search(q)

    results: dict[str, list[dict]] = {"targets": [], "search": [], "driver": []}
    print(f"{'what':<10}{'clients':>8}{'requests':>9}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'req/s':>9}{'errors':>7}")
    cypher = run_level(cypher_targets, diseases, 1, len(diseases))
    print(f"{'cypher':<10}{1:>8}{cypher['requests']:>9}{cypher['p50_ms']:>10}{cypher['p95_ms']:>10}{cypher['p99_ms']:>10}"
          f"{cypher['rps']:>9}{cypher['errors']:>7}")
    for c in levels:
        for name, fn, items in (("driver", drv_targets, diseases), ("targets", api_targets, diseases),
                                ("search", api_search, SEARCHES)):
            n = max(args.requests, c) if name != "search" else max(args.requests * 4, c)
            r = run_level(fn, items, c, n)
            results[name].append(r)
            print(f"{name:<10}{c:>8}{r['requests']:>9}{r['p50_ms']:>10}{r['p95_ms']:>10}{r['p99_ms']:>10}"
                  f"{r['rps']:>9}{r['errors']:>7}")
    def cached_targets(d):
        return cached_http.get(f"/diseases/{d}/targets", params={"limit": 50}).status_code == 200

    for d in diseases:  # fill the cache
        cached_targets(d)
    cached = run_level(cached_targets, diseases, 8, max(args.requests, 8))
    print(f"{'cached':<10}{8:>8}{cached['requests']:>9}{cached['p50_ms']:>10}{cached['p95_ms']:>10}{cached['p99_ms']:>10}"
          f"{cached['rps']:>9}{cached['errors']:>7}")
    for p in (proc, cached_proc):
        p.terminate()
        p.wait(10)

    by = {k: {r["clients"]: r for r in v} for k, v in results.items()}
    one = min(levels)
    top = max(levels)
    out = {
        "targets_p50_ms": by["targets"][one]["p50_ms"],
        "targets_p99_ms": by["targets"][top]["p99_ms"],
        f"targets_p50_ms_{top}": by["targets"][top]["p50_ms"],
        "targets_p99_ms_1": by["targets"][one]["p99_ms"],
        f"targets_rps_{top}": by["targets"][top]["rps"],
        "search_p50_ms": by["search"][one]["p50_ms"],
        "search_p99_ms": by["search"][top]["p99_ms"],
        f"search_rps_{top}": by["search"][top]["rps"],
        "driver_p50_ms": by["driver"][one]["p50_ms"],
        f"driver_rps_{top}": by["driver"][top]["rps"],
        "overhead_vs_driver": round(by["targets"][one]["p50_ms"] / by["driver"][one]["p50_ms"], 2),
        "targets_cached_p50_ms": cached["p50_ms"],
        "cypher_only_p50_ms": cypher["p50_ms"],
        "errors": sum(r["errors"] for v in results.values() for r in v),
        "diseases": len(diseases),
        "levels": levels,
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "load_average_at_start": round(os.getloadavg()[0], 2),
    }
    if "targets_rps_32" not in out:
        out["targets_rps_32"] = None
    print(json.dumps(out))


if __name__ == "__main__":
    main()
