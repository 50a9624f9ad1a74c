"""``python -m pytest_wasmcontainers.images build|push|pull``: package, upload and fetch Wasm images.

build app.wasm -o layout/ -t v1 [--entrypoint /app.wasm] [--env K=V] [--port 8080] [--kind ...]
push layout/ localhost:5000/app:v1
pull localhost:5000/app:v1        (prints the resolved image as JSON)

The same verbs as ``wasmcontainers build|push|pull --json`` (pytest_wasmcontainers/cli).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from ..cli import main as cli_main

    # `pull` here has always printed the image as JSON
    return cli_main(
        argv,
        prog="python -m pytest_wasmcontainers.images",
        commands=("build", "push", "pull"),
        fixed={"json": True},
    )


if __name__ == "__main__":
    sys.exit(main())
