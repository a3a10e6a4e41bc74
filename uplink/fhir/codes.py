"""Code tables: what each gateway reading value is in FHIR (MDC + LOINC + UCUM).

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


# -- blood pressure (compound) ---------------------------------------------------------------
BP_PANEL: Final = Concept(
    _mdc(150020, "MDC_PRESS_BLD_NONINV"),
    (_loinc("85354-9", "Blood pressure panel with all children optional"),),
    "mm[Hg]",
    "Blood pressure",
)
BP_COMPONENTS: Final[Mapping[str, Concept]] = MappingProxyType(
    {
        "systolic": Concept(
            _mdc(150021, "MDC_PRESS_BLD_NONINV_SYS"),
            (_loinc("8480-6", "Systolic blood pressure"),),
            "mm[Hg]",
            "Systolic blood pressure",
        ),
        "diastolic": Concept(
            _mdc(150022, "MDC_PRESS_BLD_NONINV_DIA"),
            (_loinc("8462-4", "Diastolic blood pressure"),),
            "mm[Hg]",
            "Diastolic blood pressure",
        ),
        "mean_arterial_pressure": Concept(
            _mdc(150023, "MDC_PRESS_BLD_NONINV_MEAN"),
            (_loinc("8478-0", "Mean blood pressure"),),
            "mm[Hg]",
            "Mean blood pressure",
        ),
    }
)

# -- numeric concepts ------------------------------------------------------------------------
_HEART_RATE_LOINC: Final = _loinc("8867-4", "Heart rate")
WEIGHT: Final = Concept(
    _mdc(188736, "MDC_MASS_BODY_ACTUAL"), (_loinc("29463-7", "Body weight"),), "kg", "Body weight"
)
HEIGHT: Final = Concept(
    _mdc(188740, "MDC_LEN_BODY_ACTUAL"), (_loinc("8302-2", "Body height"),), "cm", "Body height"
)
BMI: Final = Concept(
    _mdc(188752, "MDC_RATIO_MASS_BODY_LEN_SQ"),
    (_loinc("39156-5", "Body mass index (BMI) [Ratio]"),),
    "kg/m2",
    "Body mass index",
)
BODY_FAT: Final = Concept(
    _mdc(188748, "MDC_BODY_FAT"),
    (_loinc("41982-0", "Percentage of body fat Measured"),),
    "%",
    "Body fat",
    vital_sign=False,
)
FAT_FREE_MASS: Final = Concept(
    _mdc(188756, "MDC_MASS_BODY_FAT_FREE"), (), "kg", "Fat-free mass", vital_sign=False
)
SOFT_LEAN_MASS: Final = Concept(
    _mdc(188760, "MDC_MASS_BODY_SOFT_LEAN"), (), "kg", "Soft lean mass", vital_sign=False
)
BODY_WATER: Final = Concept(_mdc(188764, "MDC_BODY_WATER"), (), "kg", "Body water", vital_sign=False)
PULSE_RATE_NIBP: Final = Concept(
    _mdc(149546, "MDC_PULS_RATE_NON_INV"), (_HEART_RATE_LOINC,), "/min", "Pulse rate"
)
PULSE_RATE: Final = Concept(_mdc(149514, "MDC_PULS_RATE"), (_HEART_RATE_LOINC,), "/min", "Heart rate")
PULSE_RATE_OXIM: Final = Concept(
    _mdc(149530, "MDC_PULS_OXIM_PULS_RATE"), (_HEART_RATE_LOINC,), "/min", "Pulse rate"
)
SPO2: Final = Concept(
    _mdc(150456, "MDC_PULS_OXIM_SAT_O2"),
    (
        _loinc("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"),
        _loinc("2708-6", "Oxygen saturation in Arterial blood"),
    ),
    "%",
    "Oxygen saturation",
)
BODY_TEMPERATURE: Final = Concept(
    _mdc(150364, "MDC_TEMP_BODY"), (_loinc("8310-5", "Body temperature"),), "Cel", "Body temperature"
)

_BODY: Final = {
    "weight": WEIGHT,
    "height": HEIGHT,
    "bmi": BMI,
    "body_fat_pct": BODY_FAT,
    "fat_free_mass": FAT_FREE_MASS,
    "soft_lean_mass": SOFT_LEAN_MASS,
    "body_water_mass": BODY_WATER,
}

# (kind, value name) -> concept of its own PhdNumericObservation.
NUMERIC: Final[Mapping[tuple[str, str], Concept]] = MappingProxyType(
    {
        ("blood_pressure", "pulse_rate"): PULSE_RATE_NIBP,
        ("weight", "weight"): WEIGHT,
        ("weight", "bmi"): BMI,
        ("weight", "height"): HEIGHT,
        **{("body_composition", name): c for name, c in _BODY.items()},
        ("heart_rate", "heart_rate"): PULSE_RATE,
        ("spo2", "spo2"): SPO2,
        ("spo2", "pulse_rate"): PULSE_RATE_OXIM,
        ("temperature", "temperature"): BODY_TEMPERATURE,
    }
)

# kind -> (panel concept, value name -> component concept) of a PhdCompoundNumericObservation.
COMPOUND: Final[Mapping[str, tuple[Concept, Mapping[str, Concept]]]] = MappingProxyType(
    {"blood_pressure": (BP_PANEL, BP_COMPONENTS)}
)

_UNVERIFIED = "no MDC/LOINC code could be verified for it (docs/fhir.md); not sent in FHIR"
# Values (or whole kinds, with value name "*") the FHIR format leaves out, and why.
NOT_MAPPED: Final[Mapping[tuple[str, str], str]] = MappingProxyType(
    {
        ("position", "*"): (
            "position fixes have no PHD IG profile or MDC observation type; "
            "they stay in the hut format and are not sent in FHIR"
        ),
        **{
            ("body_composition", name): _UNVERIFIED
            for name in (
                "fat_mass",
                "muscle_mass",
                "muscle_pct",
                "bone_mass",
                "body_water_pct",
                "basal_metabolism",
                "visceral_fat_rating",
                "metabolic_age",
                "impedance",
            )
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
