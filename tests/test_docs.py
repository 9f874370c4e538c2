"""The README and the docs/ pages: every relative link (and #anchor) points at something that
exists, and every benchmark script they show in a command is run by a test."""

import re
from pathlib import Path

import pytest

from .support import REPO

PAGES = sorted(
    [REPO / "README.md", *(REPO / "docs").glob("*.md")]
    + [REPO / p for p in ("config/README.md", "results/README.md")]
)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.M | re.S)
CODE_SPAN = re.compile(r"`[^`\n]*`")
# Benchmark scripts shown in a command on these pages that no test runs, and why.
NOT_RUN_BY_A_TEST = {}


def prose(text: str) -> str:
    """The text without code: fenced and indented blocks, and inline code spans."""
    text = FENCE.sub("", text)
    lines = [line for line in text.splitlines() if not line.startswith("    ")]
    return CODE_SPAN.sub("", "\n".join(lines))


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, and
    -1, -2, ... on repeats."""
    seen: dict[str, int] = {}
    out = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*$", FENCE.sub("", page.read_text()), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        out.add(slug if count == 0 else f"{slug}-{count}")
    return out


def relative_links(page: Path) -> list[str]:
    return [
        target
        for target in LINK.findall(prose(page.read_text()))
        if not re.match(r"[a-z][a-z0-9+.-]*:", target)  # http:, https:, mailto:
    ]


def test_the_pages_exist_and_have_links():
    assert all(page.is_file() for page in PAGES)
    assert relative_links(REPO / "README.md")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(page):
    broken = []
    for target in relative_links(page):
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target}: no such file or folder")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading with the anchor #{anchor}")
    assert not broken, f"{page.relative_to(REPO)}: " + "; ".join(broken)


def test_the_anchor_rule_matches_github(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# A: b's `c/d.yaml`\n## Per job: start-up\n## Per job: start-up\n")
    assert anchors(page) == {"a-bs-cdyaml", "per-job-start-up", "per-job-start-up-1"}


def test_every_benchmark_shown_in_a_command_is_run_by_a_test():
    shown = set()
    for page in PAGES:
        for line in page.read_text().splitlines():
            if line.startswith("    "):
                shown |= set(re.findall(r"benchmarks/(\w+\.py)", line))
    this = Path(__file__).resolve()
    tests = "\n".join(p.read_text() for p in (REPO / "tests").rglob("*.py") if p.resolve() != this)
    not_run = {script for script in shown if script.removesuffix(".py") not in tests}
    assert shown and not_run == set(NOT_RUN_BY_A_TEST), (
        f"shown in a command but run by no test: {sorted(not_run - set(NOT_RUN_BY_A_TEST))}; "
        f"listed as not run but now run or not shown: {sorted(set(NOT_RUN_BY_A_TEST) - not_run)}"
    )
