"""Code tables: what each gateway reading value is in FHIR (MDC + LOINC + UCUM), from the kind
catalogue (``drivers/kinds.py``).

Every code here was checked against a published source; ``docs/fhir.md`` lists where. Values
without a verified code are in :data:`NOT_MAPPED` with the reason, and are left out of the
Bundle (the rest of the reading is still sent).

MDC codes are the 32-bit form the PHD IG requires (partition * 2**16 + term code), in the
system ``urn:iso:std:iso:11073:10101``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from drivers import kinds as k

MDC: Final = "urn:iso:std:iso:11073:10101"
LOINC: Final = "http://loinc.org"
UCUM: Final = "http://unitsofmeasure.org"

# HL7 PHD IG (hl7.org/fhir/uv/phd, STU 2, FHIR 4.0.1) canonical profile URLs.
PHD: Final = "http://hl7.org/fhir/uv/phd/StructureDefinition/"
PROFILE_NUMERIC: Final = PHD + "PhdNumericObservation"
PROFILE_COMPOUND: Final = PHD + "PhdCompoundNumericObservation"
PROFILE_PHD_DEVICE: Final = PHD + "PhdDevice"
PROFILE_PHG_DEVICE: Final = PHD + "PhgDevice"
# FHIR R4 core extension the IG uses for the gateway (Observation -> PHG Device).
EXT_GATEWAY_DEVICE: Final = "http://hl7.org/fhir/StructureDefinition/observation-gatewayDevice"
# Interpretation codes the IG takes from the PoCD IG for measurement status.
MEASUREMENT_STATUS: Final = "http://hl7.org/fhir/uv/pocd/CodeSystem/measurement-status"
OBSERVATION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/observation-category"
CONTINUA_DEVICE_IDS: Final = "http://hl7.org/fhir/uv/phd/CodeSystem/ContinuaDeviceIdentifiers"
BLUETOOTH_MAC_SYSTEM: Final = "http://hl7.org/fhir/sid/eui-48/bluetooth"
RFC3986: Final = "urn:ietf:rfc:3986"


@dataclass(frozen=True, slots=True)
class Code:
    system: str
    code: str
    display: str

    def coding(self) -> dict[str, str]:
        return {"system": self.system, "code": self.code, "display": self.display}


@dataclass(frozen=True, slots=True)
class Concept:
    """One measured concept: the MDC code first (required by the IG), then LOINC translations."""

    mdc: Code
    loinc: tuple[Code, ...]
    ucum: str
    text: str
    vital_sign: bool = True

    def codeable(self) -> dict[str, object]:
        return {"coding": [self.mdc.coding(), *(c.coding() for c in self.loinc)], "text": self.text}


def _mdc(code: int, ref: str) -> Code:
    return Code(MDC, str(code), ref)


def _loinc(code: str, display: str) -> Code:
    return Code(LOINC, code, display)


def _concept(f: k.Fhir, unit: str) -> Concept:
    loinc = tuple(_loinc(code, display) for code, display in f.loinc)
    return Concept(_mdc(f.mdc, f.mdc_ref), loinc, unit, f.text, f.vital_sign)


# The codes come from the kind catalogue (drivers/kinds.py): each value's ``fhir``, each
# compound kind's ``fhir_panel``, and the reasons a kind or value is not sent.

# (kind, value name) -> concept of its own PhdNumericObservation.
NUMERIC: Final[Mapping[tuple[str, str], Concept]] = MappingProxyType(
    {
        (kind, name): _concept(v.fhir, v.unit)
        for kind, spec in k.KINDS.items()
        for name, v in spec.values.items()
        if v.fhir is not None and not v.fhir.component
    }
)

# kind -> (panel concept, value name -> component concept) of a PhdCompoundNumericObservation.
COMPOUND: Final[Mapping[str, tuple[Concept, Mapping[str, Concept]]]] = MappingProxyType(
    {
        kind: (
            _concept(spec.fhir_panel, next(iter(spec.values.values())).unit),
            MappingProxyType(
                {
                    name: _concept(v.fhir, v.unit)
                    for name, v in spec.values.items()
                    if v.fhir is not None and v.fhir.component
                }
            ),
        )
        for kind, spec in k.KINDS.items()
        if spec.fhir_panel is not None
    }
)

# Values (or whole kinds, with value name "*") the FHIR format leaves out, and why.
NOT_MAPPED: Final[Mapping[tuple[str, str], str]] = MappingProxyType(
    {
        **{(kind, "*"): spec.not_mapped for kind, spec in k.KINDS.items() if spec.not_mapped is not None},
        **{
            (kind, name): v.not_mapped
            for kind, spec in k.KINDS.items()
            if spec.not_mapped is None
            for name, v in spec.values.items()
            if v.not_mapped is not None
        },
    }
)

# Device types (PHD IG Device profiles).
DEVICE_TYPE_PHD: Final = _mdc(65573, "MDC_MOC_VMS_MDS_SIMP")
DEVICE_TYPE_PHG: Final = _mdc(531981, "MDC_MOC_VMS_MDS_AHD")


def kind_mapped(kind: str) -> bool:
    """Whether a reading of ``kind`` can appear in a FHIR Bundle at all."""
    return (kind, "*") not in NOT_MAPPED and (kind in COMPOUND or any(k == kind for k, _ in NUMERIC))


def concept_by_mdc() -> dict[str, tuple[str, str | None]]:
    """MDC code -> (kind, value name or None for a compound panel); for the receiver's way back."""
    out: dict[str, tuple[str, str | None]] = {}
    for kind, (panel, _) in COMPOUND.items():
        out[panel.mdc.code] = (kind, None)
    for (kind, name), c in NUMERIC.items():
        out.setdefault(c.mdc.code, (kind, name))
    return out
