"""The kind catalogue (drivers/kinds.py) is complete, and what derives from it agrees with it."""

from __future__ import annotations

import typing
from pathlib import Path

import yaml

from drivers import kinds as k
from drivers.ble.dedup import Deduplicator
from uplink.contract import ReadingKind, WireReading

ROOT = Path(__file__).resolve().parents[2]


def test_every_kind_is_complete() -> None:
    assert k.KINDS, "the catalogue is empty"
    for name, spec in k.KINDS.items():
        assert spec.name == name
        assert spec.label.zh and spec.label.en, name
        assert spec.lane in ("clinical", "telemetry"), name
        assert spec.mode in ("spot", "stream"), name
        assert spec.classify in (None, "bp", "bmi"), name
        assert spec.values and spec.required, f"{name}: a kind has values and at least one is required"
        for vname, v in spec.values.items():
            where = f"{name}.{vname}"
            assert v.unit in k.UNIT_LABELS, f"{where}: unit {v.unit!r} has no display label"
            assert v.label.zh and v.label.en, where
            if v.required:
                assert v.plausible is not None, f"{where}: a required value needs a plausible range"
            if v.plausible is not None:
                assert v.plausible[0] < v.plausible[1], where
            if v.trend is not None:
                assert v.trend > 0, where
            # FHIR: a code, or a reason it is not sent (for the value or the whole kind)
            assert (v.fhir is not None) != (v.not_mapped is not None or spec.not_mapped is not None), where
            if v.fhir is not None and v.fhir.component:
                assert spec.fhir_panel is not None, f"{where}: a component needs its kind's panel"
        for rule in spec.alerts:
            assert rule.value in spec.values, f"{name}: alert {rule.alert} on unknown value {rule.value}"
            assert rule.name_zh and rule.what_zh and rule.message, rule.alert
            assert rule.severity in ("info", "warning", "critical"), rule.alert
    assert set(k.KIND_NAMES) == set(k.KINDS)


def test_contract_kind_enum_is_the_catalogue() -> None:
    assert typing.get_args(typing.get_type_hints(WireReading)["kind"]) == k.KIND_NAMES
    schema = WireReading.model_json_schema()
    assert schema["properties"]["kind"]["enum"] == list(k.KIND_NAMES)
    assert ReadingKind is not str  # at run time the Literal of the catalogue's names


def test_dedup_spot_kinds_are_the_catalogue_spot_kinds() -> None:
    assert {n for n, s in k.KINDS.items() if s.mode == "spot"} == Deduplicator()._untimed_kinds


def test_openapi_kinds_and_values_are_the_catalogue() -> None:
    doc = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text(encoding="utf-8"))
    schemas = doc["components"]["schemas"]
    assert schemas["Kind"]["enum"] == list(k.KIND_NAMES)
    for union in ("ReadingIn", "ManualReadingIn"):
        assert list(schemas[union]["discriminator"]["mapping"]) == list(k.KIND_NAMES), union
        refs = [r["$ref"].rsplit("/", 1)[1] for r in schemas[union]["oneOf"]]
        assert refs == [f"{union}_{n}" for n in k.KIND_NAMES], union
    for name, spec in k.KINDS.items():
        values = schemas[f"Values_{name}"]
        assert values["required"] == list(spec.required), name
        assert {n: p["description"] for n, p in values["properties"].items()} == {
            n: v.unit for n, v in spec.values.items()
        }, name


def test_display_part_is_json_ready_and_covers_every_kind() -> None:
    import json

    shown = json.loads(json.dumps(k.display()))
    assert list(shown["kinds"]) == list(k.KIND_NAMES)
    for name, spec in k.KINDS.items():
        assert list(shown["kinds"][name]["values"]) == list(spec.values)


#: Profiles without public vectors, and why (each must be marked provisional).
NO_PUBLIC_VECTORS = {"omron.hbp9030": "format 5 comes from one hobby parser; no published line to copy"}


def test_every_profile_has_vectors_and_exposes_catalogue_kinds() -> None:
    from drivers import registry
    from tests.support.vectors import VECTORS_DIR, load_vectors

    protocols = {v["protocol"] for f in sorted(VECTORS_DIR.glob("*.json")) for v in load_vectors(f)}
    found = registry.profiles()
    assert found
    for name, profile in found.items():
        if name in NO_PUBLIC_VECTORS:
            assert profile.provisional, f"{name}: only a provisional profile may lack public vectors"
        else:
            assert name in protocols, f"{name}: no vectors under tests/vectors/"
        for kind in profile.exposes:
            assert kind in k.KINDS, f"{name} exposes {kind!r}, which the kind catalogue does not know"


def _plausibility_table() -> dict[str, str]:
    text = (ROOT / "docs" / "clinical.md").read_text(encoding="utf-8")
    section = text.split("### Plausibility", 1)[1].split("\n\n| kind | defaults |\n|---|---|\n", 1)[1]
    rows = {}
    for line in section.splitlines():
        if not line.startswith("| "):
            break
        kind, defaults = (c.strip() for c in line.strip("|").split("|"))
        rows[kind] = defaults
    return rows


def test_clinical_md_plausibility_table_is_the_catalogue() -> None:
    rows = _plausibility_table()
    assert set(rows) == set(k.plausible_defaults())
    for kind, ranges in k.plausible_defaults().items():
        text = rows[kind]
        if text.startswith("as "):  # "as weight, plus ...": the named kind's ranges, then these
            other = text.split(",", 1)[0].removeprefix("as ").strip()
            ranges = {n: r for n, r in ranges.items() if k.plausible_defaults()[other].get(n) != r}
        for name, (lo, hi) in ranges.items():
            if lo == -hi:
                shown = f"±{hi:g}"
            elif hi >= 1000 and k.KINDS[kind].values[name].unit == k.M:
                shown = f"{lo:g}-{hi / 1000:g} km"
            else:
                shown = f"{lo:g}-{hi:g}"
            assert shown in text, f"docs/clinical.md: {kind}.{name} should read {shown}"


def test_devices_md_table_names_registry_profiles_and_catalogue_kinds() -> None:
    import re

    from drivers import registry

    text = (ROOT / "docs" / "devices.md").read_text(encoding="utf-8")
    table = text.split("## Supported devices", 1)[1].split(
        "| profile | device | how it connects | gives |", 1
    )[1]
    rows = [line for line in table.splitlines()[2:] if line.startswith("|")]
    assert rows
    gives_seen: set[str] = set()
    for line in table.splitlines()[2:]:
        if not line.startswith("|"):
            break
        profile, _, _, gives = (c.strip() for c in line.strip("|").split("|"))
        for name in re.findall(r"`([^`]+)`", profile):
            assert name in registry.profiles(), f"docs/devices.md: unknown profile {name}"
        for name in re.findall(r"`([^`]+)`", gives):
            assert name in k.KINDS or name in k.alert_rules(), f"docs/devices.md: {name} is no kind"
            gives_seen.add(name)
    assert gives_seen
