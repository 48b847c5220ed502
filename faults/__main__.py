"""Run the fault scenarios longer than the test suite does, and print their reports:

    python -m faults [redis|postgres|worker ...] [--seconds S] [--commit-drop-rate R]

Each scenario owns its servers (in a temporary directory) and exits non-zero when an invariant
broke. The figures in docs/reliability.md come from this command."""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from faults import scenarios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", default=list(scenarios.SCENARIOS))
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="load between faults (each phase)"
    )
    parser.add_argument("--commit-drop-rate", type=float, default=0.03)
    args = parser.parse_args()
    failed = False
    for name in args.names:
        root = Path(tempfile.mkdtemp(prefix=f"c2m-faults-{name}-"))
        kwargs: dict[str, Any] = {"seconds": args.seconds}
        if name == "postgres":
            kwargs["commit_drop_rate"] = args.commit_drop_rate
        try:
            report = asyncio.run(scenarios.SCENARIOS[name](root, **kwargs))
            verdict = "held"
        except AssertionError as exc:
            # The servers' data stays for a look at what broke; its place is in the report.
            report = {"broken": str(exc), "data kept in": str(root)}
            verdict, failed = "BROKEN", True
        else:
            shutil.rmtree(root, ignore_errors=True)  # 40 MB a scenario, nothing to look at
        print(
            json.dumps(
                {
                    "scenario": name,
                    "invariants": verdict,
                    "report": report,
                    "machine": f"{platform.machine()} {platform.processor() or ''} "
                    f"python {platform.python_version()}",
                    "date": datetime.now(UTC).isoformat(timespec="seconds"),
                },
                indent=2,
                default=str,
            )
        )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
