"""What the console transfers on its first view: every file the sign-in screen loads, raw and
gzip-compressed as the server sends it (Starlette's GZipMiddleware, level 9).

    python -m bench.console_size
"""

from __future__ import annotations

import gzip
from pathlib import Path

CONSOLE = Path(__file__).resolve().parents[1] / "server" / "console"
FIRST_VIEW = [
    "index.html", "app.css", "vendor/uPlot.min.css", "vendor/uPlot.iife.min.js", "js/app.js",
    "js/api.js", "js/i18n.js", "js/ui.js", "vendor/preact.module.js", "vendor/hooks.module.js",
    "vendor/htm.module.js", "vendor/graphql-ws.js", "vendor/common-CGW11Fyb.js",
    "vendor/qrcode.mjs", "persisted-documents.json", "i18n/zh-CN.json",
]  # fmt: skip


def main() -> None:
    raw = packed = 0
    for name in FIRST_VIEW:
        data = (CONSOLE / name).read_bytes()
        raw += len(data)
        packed += len(gzip.compress(data, compresslevel=9))
    print(f"{len(FIRST_VIEW)} files, {raw / 1024:.1f} KiB raw, {packed / 1024:.1f} KiB gzip")


if __name__ == "__main__":
    main()
