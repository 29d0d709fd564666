"""Every third-party package the product imports is a runtime dependency in pyproject.toml
(so `./run.sh`, which installs only those, cannot crash on a missing import)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_runtime_imports_are_declared_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_norm(re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0]) for d in project["dependencies"]}
    dists = packages_distributions()
    missing: dict[str, set[str]] = {}
    for path in (ROOT / "src" / "clickphone").rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top == "clickphone" or top in sys.stdlib_module_names:
                    continue
                owners = {_norm(d) for d in dists.get(top, [top])}
                # uvicorn[standard] brings websockets etc.; sqlalchemy[asyncio] brings greenlet
                if not owners & (declared | {"websockets", "greenlet", "starlette"}):
                    missing.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    assert not missing, f"imported but not in [project].dependencies: {missing}"
