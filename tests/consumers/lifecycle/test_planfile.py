"""A plan's JSON form reads back equal to what was written; a bad or foreign file is an
error naming the file and the entry; the table shows every entry and the totals."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from common.environ import ConfigError
from consumers.lifecycle.planfile import (
    FORMAT,
    PlanFileError,
    human_bytes,
    parse_plan,
    plan_document,
    plan_json,
    plan_table,
    read_plan,
    write_plan,
)
from tests.consumers.lifecycle.test_plan import RULE, digest, fact, plan

SAMPLE = plan(
    RULE + "    keep_last_pushed: 1\n    delete_untagged_after_days: 1\n",
    fact("new", "2", pushed_days_ago=1),
    fact("old", "1", "1.0", pushed_days_ago=9),
    fact("untagged", pushed_days_ago=9),
    fact("elsewhere", "1", repository="other/app"),
)


def test_the_json_form_reads_back_equal(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    write_plan(SAMPLE, path)
    assert read_plan(path) == SAMPLE
    document = orjson.loads(path.read_bytes())
    assert document["format"] == FORMAT and document["version"] == 1
    assert document["bytes_freed"] == 30
    assert document["delete"][0] == {
        "repository": "team/app",
        "digest": digest("old"),
        "tags": ["1", "1.0"],
        "reason": "rules[0] (team/*): not among the last 1 pushed",
        "bytes_freed": 10,
        "last_pushed_at": "2026-11-22T12:00:00+00:00",
        "media_type": "application/vnd.oci.image.manifest.v1+json",
        "rule": "team/*",
    }
    assert document["keep"] == [
        {
            "repository": "other/app",
            "digest": digest("elsewhere"),
            "tags": ["1"],
            "reason": "no rule matches the repository",
            "rule": None,
        },
        {
            "repository": "team/app",
            "digest": digest("new"),
            "tags": ["2"],
            "reason": "among the last 1 pushed",
            "rule": "team/*",
        },
    ]
    assert document["policy"] == {"source": "policy.yaml", "sha256": SAMPLE.policy_sha256}


def broken(**changes: object) -> bytes:
    document = plan_document(SAMPLE) | changes
    return orjson.dumps(document)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{not json", r"plan.json: not a plan \(not JSON: "),
        (
            b'{"terraform_version": "1.5"}',
            r"plan.json: not a plan made by `registry-consumer cleanup plan --out`",
        ),
        (b"[]", r"plan.json: not a plan made by"),
        (broken(version=2), r"plan.json: a plan of version 2; this version applies version 1"),
        (broken(created_at="yesterday"), r"plan.json: created_at: not a time: 'yesterday'"),
        (broken(created_at="2026-12-01T10:00:00"), r"plan.json: created_at: a time without its zone"),
        (broken(bytes_freed="12"), r"plan.json: bytes_freed: missing or of the wrong type"),
        (broken(delete=[1]), r"plan.json: delete\[0\]: must be an object"),
        (
            broken(delete=[{"repository": "a"}]),
            r"plan.json: delete\[0\].digest: missing or of the wrong type",
        ),
        (broken(policy={"source": "p"}), r"plan.json: policy.sha256: missing or of the wrong type"),
    ],
)
def test_a_bad_or_foreign_file_names_the_file_and_the_entry(data: bytes, message: str) -> None:
    with pytest.raises(PlanFileError, match=message):
        parse_plan(data, "plan.json")


def test_bad_tags_and_an_unreadable_file_are_config_errors(tmp_path: Path) -> None:
    document = plan_document(SAMPLE)
    document["keep"][1]["tags"] = [1]
    with pytest.raises(PlanFileError, match=r"keep\[1\].tags: must be a list of tags"):
        parse_plan(orjson.dumps(document), "plan.json")
    with pytest.raises(ConfigError, match=r"nothing.json: cannot read the plan"):
        read_plan(tmp_path / "nothing.json")


def test_the_table_lists_every_entry_and_the_totals() -> None:
    lines = plan_table(SAMPLE).splitlines()
    assert lines[0].startswith("plan of 2026-12-01T12:00:00+00:00 from policy.yaml (sha256 ")
    assert lines[1].split() == ["ACTION", "REPOSITORY", "DIGEST", "TAGS", "FREES", "REASON"]
    assert lines[2].split()[:5] == ["delete", "team/app", digest("old")[:19], "1,1.0", "10"]
    assert lines[3].split()[:4] == ["delete", "team/app", digest("untagged")[:19], "(untagged)"]
    assert lines[4].split()[:4] == ["keep", "other/app", digest("elsewhere")[:19], "1"]
    assert lines[5].split()[:4] == ["keep", "team/app", digest("new")[:19], "2"]
    assert lines[5].endswith("among the last 1 pushed")
    assert lines[-1] == "2 to delete, 2 kept, 30 B freed once the registry's garbage collection runs"
    assert plan_json(SAMPLE).endswith(b"\n")


def test_sizes_read_as_people_read_them() -> None:
    assert [human_bytes(n) for n in (0, 1023, 1024, 5 * 1024**3, 3 * 1024**5)] == [
        "0 B",
        "1023 B",
        "1.0 KiB",
        "5.0 GiB",
        "3072.0 TiB",
    ]
