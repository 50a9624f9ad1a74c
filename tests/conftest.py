from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def pytest_configure(config: object) -> None:
    """The reliability matrix's rows go to one directory per run, which xdist workers and the pytest
    runs that tests start (they inherit the environment) share; only the outermost run empties it."""
    import os
    import tempfile

    from tests.reliability.matrix import ENV

    if hasattr(config, "workerinput") or os.environ.get(ENV + "_OWNER"):
        return
    directory = os.environ.get(ENV) or tempfile.mkdtemp(prefix="wasmc-matrix-")
    os.makedirs(directory, exist_ok=True)
    for old in Path(directory).glob("*.json"):  # rows of an earlier run
        old.unlink()
    os.environ[ENV] = directory
    os.environ[ENV + "_OWNER"] = str(os.getpid())


def pytest_terminal_summary(terminalreporter: object) -> None:
    """The matrix (docs/reliability.md is this printout), when the run recorded rows."""
    import os

    from tests.reliability.matrix import ENV, load, table

    directory = os.environ.get(ENV)
    rows = load(Path(directory)) if directory else []
    if not rows:
        return
    write = terminalreporter.write_line  # type: ignore[attr-defined]
    terminalreporter.write_sep("=", "reliability matrix (docs/reliability.md)")  # type: ignore[attr-defined]
    for line in table(rows):
        write(line)
