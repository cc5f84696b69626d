"""The lockfile the image and CI install from covers every dependency the product pins, at the same version
(regenerate with the pip-compile command written at its top after changing pyproject.toml)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_every_pinned_product_dependency_is_locked_at_its_version() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    locked = dict(re.findall(r"^([A-Za-z0-9_.-]+)==([^\s\\]+)", (REPO / "requirements.lock").read_text(), re.M))
    locked = {name.lower().replace("_", "-"): version for name, version in locked.items()}
    for requirement in project["dependencies"]:
        name, version = re.split(r"==", re.sub(r"\[.*?\]", "", requirement))
        assert locked.get(name.lower().replace("_", "-")) == version, f"{requirement} is not in requirements.lock"
