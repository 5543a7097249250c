"""The docs stay true where a test can tell: every relative link of README.md and docs/ points
at a file inside the repo (README once linked a design file outside it), every
`arcadelab run <stage>` they show names a registered stage, and none still promises a stage
"once the lead wires the flow into the CLI"."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flows.stage_registry import REGISTRY

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s#]*)(?:#[^)\s]*)?\)")  # [text](target#anchor)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve_inside_the_repo(page: Path) -> None:
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if not target or re.match(r"^[a-z]+:", target):  # an anchor alone, http:, mailto:
            continue
        path = (page.parent / target).resolve()
        assert path.is_relative_to(ROOT), f"{page.name} links {target}, outside the repo"
        assert path.exists(), f"{page.name} links {target}, which does not exist"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_stage_commands_name_registered_stages(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    unknown = [s for s in re.findall(r"arcadelab run ([a-z_]+)", text) if s not in REGISTRY]
    assert not unknown, f"{page.name}: `arcadelab run` of unknown stages {unknown}"
    assert "wires the flow into the CLI" not in text, f"{page.name}: the CLI runs it already"
