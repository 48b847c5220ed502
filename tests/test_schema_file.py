from pathlib import Path

from infra.config import Settings
from schema.build import build_schema

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


def test_committed_schema_matches_the_code() -> None:
    current = build_schema(Settings()).as_str() + "\n"
    assert SCHEMA_FILE.read_text() == current, (
        "schema.graphql is stale: run `c2m export-schema > schema.graphql` and commit it"
    )
