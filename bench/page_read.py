"""The drop page a mini-program polls (`node(id:) { ... on Drop { progress } }` as a member),
read alone: one connection (the latency of one read), then N connections (what one API process
serves when only reads arrive).

    python -m bench.page_read [--requests 3000] [--concurrency 1 32] [--profile DIR]
                              [--page progress|status|typename]

Seeds one open drop and its member with bench.flash_drop's seed; one API process. Besides the
rates and latencies, the API's own CPU time per read (steadier than a rate on a shared VM).
"""

from __future__ import annotations

import argparse
from typing import Any

from bench import common, loadgen
from bench.common import SECRET, gid
from bench.flash_drop import PAGES, page_ok, seed
from domain.identity.tokens import TokenIssuer


async def run_all(args: argparse.Namespace, db_url: str, redis_url: str) -> dict[str, Any]:
    users, drop_id, _ = await seed(db_url, 10, 1000)
    token = TokenIssuer(SECRET, 3600).issue(users[0]).token
    port = common.free_port()
    page = loadgen.build_request(
        "127.0.0.1",
        port,
        "/graphql",
        {"query": PAGES[args.page], "variables": {"id": gid("Drop", drop_id)}},
        {"Authorization": f"Bearer {token}"},
    )
    api = common.start_api(db_url, redis_url, port, args.workers)
    out: dict[str, Any] = {}
    try:
        await loadgen.run("127.0.0.1", port, [page] * 200, 4, page_ok)  # warm up
        spies = common.profile(args, {"graphql": api})
        for n in args.concurrency:
            cpu = common.cpu_seconds(api)
            r = await loadgen.run("127.0.0.1", port, [page] * args.requests, n, page_ok)
            cpu = common.cpu_seconds(api) - cpu
            out[f"connections_{n}"] = {
                "api_cpu_ms_per_read": round(1000 * cpu / (r.ok + r.failed), 2),
                "reads_per_s": round(r.rate),
                "p50_ms": round(r.percentile(50) * 1000, 1),
                "p99_ms": round(r.percentile(99) * 1000, 1),
                "failed": r.failed,
            }
        for spy in spies:
            spy.wait()
    finally:
        common.stop(api)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--page", choices=sorted(PAGES), default="progress")
    common.storm_options(parser, profile_seconds=10)
    common.run(run_all, parser.parse_args())


if __name__ == "__main__":
    main()
