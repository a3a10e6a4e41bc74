"""docs/asyncapi.yaml and docs/schemas/ are generated from the contract and their examples validate."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
import yaml

from uplink import schemas
from uplink.commands import CommandVerifier, ReplayStore, load_public_key

DOCS = Path(__file__).resolve().parents[2] / "docs"


def load() -> dict[str, Any]:
    return yaml.safe_load((DOCS / "asyncapi.yaml").read_text(encoding="utf-8"))


def examples() -> list[tuple[str, str, Any]]:
    doc = load()
    out = []
    for name, message in doc["components"]["messages"].items():
        for example in message.get("examples", []):
            out.append((name, message["payload"]["$ref"], example["payload"]))
    return out


def test_documents_are_up_to_date() -> None:
    assert (DOCS / "asyncapi.yaml").read_text(encoding="utf-8") == schemas.render_asyncapi(), (
        "run: python -m uplink.schemas docs/"
    )
    for name in schemas.MODELS:
        assert (DOCS / "schemas" / f"{name}.schema.json").read_text(
            encoding="utf-8"
        ) == schemas.render_schema(name)


def test_file_schemas_are_up_to_date() -> None:
    """What travels as a file (the import receipt) has its JSON Schema in docs/schemas/ too."""
    assert set(schemas.FILE_MODELS) == {"Receipt"}
    for name in schemas.FILE_MODELS:
        assert (DOCS / "schemas" / f"{name}.schema.json").read_text(
            encoding="utf-8"
        ) == schemas.render_schema(name), "run: python -m uplink.schemas docs/"


def test_every_message_has_examples() -> None:
    names = {name for name, _, _ in examples()}
    assert names == set(schemas.MODELS)


@pytest.mark.parametrize(
    ("name", "ref", "payload"), examples(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_example_validates_against_its_schema(name: str, ref: str, payload: Any) -> None:
    doc = load()
    validator = jsonschema.Draft202012Validator(
        {"$ref": ref, "components": doc["components"]}, format_checker=jsonschema.FormatChecker()
    )
    validator.validate(payload)
    # and the standalone schema, and the pydantic model itself
    jsonschema.Draft202012Validator(schemas.standalone_schema(name)).validate(payload)
    schemas.MODELS[name].model_validate(payload)


def test_schemas_reject_what_the_models_reject() -> None:
    doc = load()
    validator = jsonschema.Draft202012Validator(
        {"$ref": "#/components/schemas/ReadingsEnvelope", "components": doc["components"]}
    )
    bad = dict(schemas.EXAMPLES["ReadingsEnvelope"][0], surprise=1)
    assert not validator.is_valid(bad)


def test_example_command_signature_verifies_with_the_example_key(tmp_path: Path) -> None:
    body = schemas.EXAMPLES["Command"][0]
    verifier = CommandVerifier(
        load_public_key(schemas.EXAMPLE_PUBLIC_KEY),
        body["gateway_id"],
        ReplayStore(None, clock=lambda: 0.0),
        clock=lambda: datetime(2026, 11, 29, 8, 21, tzinfo=UTC),
    )
    assert verifier.check(orjson.dumps(body)).command.id == body["id"]
