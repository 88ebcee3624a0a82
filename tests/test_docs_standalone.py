"""The docs stand on the repository alone: a clone has no ``../shared`` (the team's fixtures and
notes) and no ``/work``, so no document may send a reader there."""

from __future__ import annotations

from tests.support.paths import DOCS, ROOT

OUTSIDE = ("../shared", "/work/")


def test_no_document_points_outside_the_repository() -> None:
    documents = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted(DOCS.rglob("*.md"))]
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in documents
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if any(outside in line for outside in OUTSIDE)
    ]
    assert found == []
