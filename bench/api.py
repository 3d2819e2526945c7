"""API benchmark: latency (p50/p95/p99) and throughput of the hypothesis API against the dev warehouse.

Runs the API under uvicorn in separate processes on loopback ports (the default settings: your
managed dev Neo4j, or NEO4J_URI) and drives it with 1, 8 and 32 concurrent clients from a load
generator in its own process (asyncio + aiohttp, or httpx if aiohttp is missing), so the clients
do not share a GIL with the server or with each other's bookkeeping:

  targets     GET /diseases/{curie}/targets?limit=50 as shipped: answers are materialised per
              (request, graph fingerprint) -- the fingerprint is re-read every second, so a write
              is seen a second later -- rotating over every disease with TREATS and
              GENE_ASSOCIATED_WITH_CONDITION edges after one warm-up pass over them
  targets_raw the same with materialisation off (TARGETKG_API_CACHE_S=0): every request runs its
              Cypher, the pathway index, the ranking and the paths
  search      GET /search?q=... as shipped (materialised), rotating over names with typos
  search_raw  the same with materialisation off: every request runs the full-text query
  driver      the same data work as /targets through the Neo4j driver directly (its Cypher round
              trip plus the in-memory pathway index; no HTTP, no ranking), same concurrency, in
              threads of this process: the baseline for the API's overhead
  cypher      all four components as Cypher through the driver (the pathway component as the
              reference Cypher query, which the index replaced), 1 client: what it cost before

Options: --requests N (per level and endpoint, at least 10 per client; default 320), --levels 1,8,32,
--workers N (API worker processes, as `targetkg serve --workers N`; default 1).
Last line: one JSON object with targets_p50_ms, targets_p99_ms, targets_rps_32, search_p99_ms,
overhead_vs_driver (API p50 / driver p50 at 1 client) -- all for the API as shipped -- the same
figures with the suffix _raw for materialisation off, and the rest; p50 figures without a level
suffix are at 1 client, p99 figures at the highest level (32 clients).
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
from urllib.parse import quote

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
    """n calls of fn over items from `clients` threads of this process (the driver baseline)."""
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
    return summary(lat, errors, clients, n, wall)


def summary(lat: list[float], errors: int, clients: int, n: int, wall: float) -> dict:
    return {"clients": clients, "requests": n, "errors": errors, "p50_ms": round(pct(lat, .5), 1),
            "p95_ms": round(pct(lat, .95), 1), "p99_ms": round(pct(lat, .99), 1), "rps": round(n / wall, 2)}


def loadgen(spec: dict) -> dict:
    """The load generator (run in its own process): `clients` keep-alive connections send
    `requests` GETs over `paths` in turn; each client sends one untimed request first."""
    import asyncio
    import itertools

    base, paths, clients, n = spec["base"], spec["paths"], spec["clients"], spec["requests"]

    async def main() -> dict:
        lat: list[float] = []
        errors = 0
        counter = itertools.count()
        try:
            import aiohttp

            session = aiohttp.ClientSession(base, connector=aiohttp.TCPConnector(limit=clients),
                                            timeout=aiohttp.ClientTimeout(total=120))

            async def get(path: str) -> bool:
                async with session.get(path) as r:
                    await r.read()
                    return r.status == 200
        except ImportError:
            import httpx

            session = httpx.AsyncClient(base_url=base, timeout=120, limits=httpx.Limits(max_connections=clients))

            async def get(path: str) -> bool:
                return (await session.get(path)).status_code == 200

        async def client(k: int) -> None:
            nonlocal errors
            await get(paths[k % len(paths)])
            await ready.wait()
            while (i := next(counter)) < n:
                t0 = time.perf_counter()
                ok = await get(paths[i % len(paths)])
                lat.append((time.perf_counter() - t0) * 1000)
                errors += not ok

        ready = asyncio.Event()
        tasks = [asyncio.create_task(client(k)) for k in range(clients)]
        await asyncio.sleep(0.5)  # connections open, one request each
        t0 = time.perf_counter()
        ready.set()
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - t0
        await (session.close() if hasattr(session, "closed") else session.aclose())
        return summary(lat, errors, clients, n, wall)

    return asyncio.run(main())


def drive(base: str, paths: list[str], clients: int, n: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--loadgen",
                           json.dumps({"base": base, "paths": paths, "clients": clients, "requests": n})],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=320)
    ap.add_argument("--levels", default="1,8,32")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (targetkg serve --workers)")
    ap.add_argument("--loadgen", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.loadgen:
        print(json.dumps(loadgen(json.loads(args.loadgen))))
        return
    levels = [int(x) for x in args.levels.split(",")]

    import httpx
    from targetkg.graph.connection import driver
    from targetkg.service import queries

    from targetkg.settings import get_settings

    s = get_settings()
    drv = driver(s)
    db = s.neo4j_database
    load_at_start = os.getloadavg()[0]
    recs, _, _ = drv.execute_query(
        "MATCH (d:Disease) WHERE EXISTS { (d)<-[:TREATS]-() } AND EXISTS { (d)<-[:GENE_ASSOCIATED_WITH_CONDITION]-() } "
        "RETURN d.id AS id ORDER BY id", database_=db)
    diseases = [r["id"] for r in recs]
    if not diseases:
        sys.exit("the warehouse has no disease with TREATS and GENE_ASSOCIATED_WITH_CONDITION edges: run `targetkg build`")

    servers = []

    def start_server(cache_s: str) -> str:
        """The API in its own process (its own GIL), as `targetkg serve` runs it."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = {**os.environ, "TARGETKG_API_CACHE_S": cache_s}
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "targetkg.service.app:app", "--host", "127.0.0.1",
                                 "--port", str(port), "--log-level", "warning", "--workers", str(args.workers)], env=env)
        servers.append(proc)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/health", timeout=10).raise_for_status()
                return base
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    proc.kill()
                    sys.exit("the API server did not start")
                time.sleep(0.2)

    shipped = start_server(str(s.api_cache_s))
    raw = start_server("0")
    target_paths = [f"/diseases/{d}/targets?limit=50" for d in diseases]
    search_paths = [f"/search?q={quote(q)}&limit=20" for q in SEARCHES]

    def drv_targets(d):
        queries.disease_components(drv, db, d)
        return True

    def cypher_targets(d):
        queries.disease_components(drv, db, d, use_index=False)
        return True

    # warm-up: page cache, query plans, each process's pathway index, and (as shipped) one
    # materialised answer per disease -- what any client's first pass over them leaves behind
    for d in diseases:
        drv_targets(d)
    for base in (shipped, raw):
        drive(base, target_paths + search_paths, 1, len(target_paths) + len(search_paths))

    print(f"{len(diseases)} diseases; API as shipped (materialised per graph fingerprint) and *_raw (every request "
          f"runs its Cypher); load generator in its own process")
    print(f"{'what':<12}{'clients':>8}{'requests':>9}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'req/s':>9}{'errors':>7}")

    def show(name: str, r: dict) -> None:
        print(f"{name:<12}{r['clients']:>8}{r['requests']:>9}{r['p50_ms']:>10}{r['p95_ms']:>10}{r['p99_ms']:>10}"
              f"{r['rps']:>9}{r['errors']:>7}", flush=True)

    cypher = run_level(cypher_targets, diseases, 1, min(len(diseases), 40))
    show("cypher", cypher)
    results: dict[str, dict[int, dict]] = {k: {} for k in ("driver", "targets", "targets_raw", "search", "search_raw")}
    for c in levels:
        n = max(args.requests, 10 * c)
        runs = (("driver", lambda c=c, n=n: run_level(drv_targets, diseases, c, n if c > 1 else n // 4)),
                ("targets", lambda c=c, n=n: drive(shipped, target_paths, c, n)),
                ("targets_raw", lambda c=c, n=n: drive(raw, target_paths, c, n if c > 1 else n // 4)),
                ("search", lambda c=c, n=n: drive(shipped, search_paths, c, n)),
                ("search_raw", lambda c=c, n=n: drive(raw, search_paths, c, n)))
        for name, fn in runs:
            results[name][c] = fn()
            show(name, results[name][c])
    for p in servers:
        p.terminate()
        p.wait(10)

    one, top = min(levels), max(levels)
    out: dict = {}
    for sfx, t, sr in (("", "targets", "search"), ("_raw", "targets_raw", "search_raw")):
        out.update({
            f"targets_p50_ms{sfx}": results[t][one]["p50_ms"],
            f"targets_p99_ms{sfx}": results[t][top]["p99_ms"],
            f"targets_p50_ms_{top}{sfx}": results[t][top]["p50_ms"],
            f"targets_p99_ms_1{sfx}": results[t][one]["p99_ms"],
            f"targets_rps_{top}{sfx}": results[t][top]["rps"],
            f"search_p50_ms{sfx}": results[sr][one]["p50_ms"],
            f"search_p99_ms{sfx}": results[sr][top]["p99_ms"],
            f"search_rps_{top}{sfx}": results[sr][top]["rps"],
            f"overhead_vs_driver{sfx}": round(results[t][one]["p50_ms"] / results["driver"][one]["p50_ms"], 2),
        })
    out.update({
        "driver_p50_ms": results["driver"][one]["p50_ms"],
        f"driver_p99_ms_{top}": results["driver"][top]["p99_ms"],
        f"driver_rps_{top}": results["driver"][top]["rps"],
        "cypher_only_p50_ms": cypher["p50_ms"],
        "errors": sum(r["errors"] for v in results.values() for r in v.values()),
        "diseases": len(diseases),
        "levels": levels,
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "load_average_at_start": round(load_at_start, 2),
    })
    out.setdefault("targets_rps_32", None)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
