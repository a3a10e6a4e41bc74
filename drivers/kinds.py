"""The kind catalogue: everything the project says about a reading kind, in one place (data).

A reading kind is what a device measures, so the catalogue lives in ``drivers/``: decoders name
kinds, and ``drivers/`` is the leaf every other package may import (it imports nothing of
ours). ``uplink/`` may import this one module of ``drivers/`` (and nothing else of it); see
docs/architecture.md, "Who owns what". Per kind it says:

* its values: UCUM unit, whether required, plausible range (the defaults of ``[clinical]
  plausible``), trend tolerance (the kiosk history's ``stable`` band), FHIR codes (MDC first,
  then LOINC; or why the value is not sent in FHIR), display label in zh/en;
* its lane (``clinical`` or ``telemetry``: the outbox lane the reading goes in), whether it is a
  ``spot`` measurement or a ``stream`` (a re-sent spot reading without a time stamp is a
  duplicate; a stream repeats values legitimately);
* its classification hook (``bp``: blood-pressure grade and crisis alert, ``bmi``: BMI class;
  the clinical code itself stays in ``gateway/clinical.py``) and its threshold alerts;
* its display label in zh/en, served to the kiosk as JSON (``GET /api/v1/kinds``).

Who derives from it: ``gateway/config.py`` (plausible defaults), ``gateway/kinds.py`` and
``gateway/pipeline.py`` (units, required values, lanes, hooks, alerts), ``gateway/api/history.py``
(trend tolerances), ``drivers/ble/dedup.py`` (spot kinds), ``uplink/contract.py`` (the ``kind``
enum), ``uplink/fhir/codes.py`` (FHIR codes), ``gateway/notify/policy.py`` (what an alert's SMS
says) and the kiosk. ``tests/drivers/test_kinds.py`` checks every kind is complete.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal

# UCUM units (the same strings as drivers.measurement's constants).
MMHG: Final = "mm[Hg]"
PER_MIN: Final = "/min"
KG: Final = "kg"
PERCENT: Final = "%"
OHM: Final = "Ohm"
KJ: Final = "kJ"
KG_PER_M2: Final = "kg/m2"
CM: Final = "cm"
M: Final = "m"
DEG: Final = "deg"
YEAR: Final = "a"
M_PER_S: Final = "m/s"
CEL: Final = "Cel"
ONE: Final = "1"

Lane = Literal["clinical", "telemetry"]
Mode = Literal["spot", "stream"]
Hook = Literal["bp", "bmi"]


@dataclass(frozen=True, slots=True)
class Value:
    """One measured value with its UCUM unit (``drivers.measurement`` re-exports it; here so that
    ``uplink/``, which may import only this module of ``drivers/``, reads readings back)."""

    value: float
    unit: str


@dataclass(frozen=True, slots=True)
class Label:
    zh: str
    en: str


@dataclass(frozen=True, slots=True)
class Fhir:
    """A value's FHIR concept: MDC code (32-bit form) and reference id, LOINC translations."""

    mdc: int
    mdc_ref: str
    loinc: tuple[tuple[str, str], ...]
    text: str
    vital_sign: bool = True
    component: bool = False
    """a component of the kind's compound observation (``KindSpec.fhir_panel``), not its own"""


@dataclass(frozen=True, slots=True)
class ValueSpec:
    unit: str
    label: Label
    required: bool = False
    plausible: tuple[float, float] | None = None
    trend: float | None = None
    """change over the period shown below which the trend is ``stable``; None: no trend"""
    fhir: Fhir | None = None
    not_mapped: str | None = None
    """why the value is left out of FHIR (when ``fhir`` is None and the kind is mapped)"""


@dataclass(frozen=True, slots=True)
class AlertRule:
    """An alert raised for a resident's reading whose ``value`` is below ``below``."""

    value: str
    below: float
    alert: str
    severity: Literal["info", "warning", "critical"]
    message: str
    name_zh: str
    what_zh: str
    """what happened, in the SMS sentence; ``{value}`` is the value with its unit"""


@dataclass(frozen=True, slots=True)
class KindSpec:
    name: str
    label: Label
    lane: Lane
    mode: Mode
    values: Mapping[str, ValueSpec]
    classify: Hook | None = None
    alerts: tuple[AlertRule, ...] = ()
    fhir_panel: Fhir | None = None
    not_mapped: str | None = None
    """why no reading of this kind is sent in FHIR"""
    _required: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @property
    def required(self) -> tuple[str, ...]:
        return self._required


def _kind(
    name: str,
    label: Label,
    lane: Lane,
    mode: Mode,
    values: Mapping[str, ValueSpec],
    *,
    classify: Hook | None = None,
    alerts: tuple[AlertRule, ...] = (),
    fhir_panel: Fhir | None = None,
    not_mapped: str | None = None,
) -> KindSpec:
    vals = MappingProxyType(dict(values))
    required = tuple(n for n, s in vals.items() if s.required)
    return KindSpec(name, label, lane, mode, vals, classify, alerts, fhir_panel, not_mapped, required)


_UNVERIFIED: Final = "no MDC/LOINC code could be verified for it (docs/fhir.md); not sent in FHIR"
_HEART_RATE_LOINC: Final = (("8867-4", "Heart rate"),)

_WEIGHT = ValueSpec(
    KG,
    Label("体重", "weight"),
    required=True,
    plausible=(2, 300),
    trend=1.0,
    fhir=Fhir(188736, "MDC_MASS_BODY_ACTUAL", (("29463-7", "Body weight"),), "Body weight"),
)
_BMI = ValueSpec(
    KG_PER_M2,
    Label("体质指数", "BMI"),
    plausible=(8, 80),
    trend=0.5,
    fhir=Fhir(
        188752,
        "MDC_RATIO_MASS_BODY_LEN_SQ",
        (("39156-5", "Body mass index (BMI) [Ratio]"),),
        "Body mass index",
    ),
)
_HEIGHT = ValueSpec(
    CM,
    Label("身高", "height"),
    plausible=(40, 250),
    fhir=Fhir(188740, "MDC_LEN_BODY_ACTUAL", (("8302-2", "Body height"),), "Body height"),
)
_SPO2_VALUES = {
    "spo2": ValueSpec(
        PERCENT,
        Label("血氧饱和度", "SpO2"),
        required=True,
        plausible=(50, 100),
        fhir=Fhir(
            150456,
            "MDC_PULS_OXIM_SAT_O2",
            (
                ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"),
                ("2708-6", "Oxygen saturation in Arterial blood"),
            ),
            "Oxygen saturation",
        ),
    ),
    "pulse_rate": ValueSpec(
        PER_MIN,
        Label("脉搏", "pulse"),
        plausible=(25, 250),
        fhir=Fhir(149530, "MDC_PULS_OXIM_PULS_RATE", _HEART_RATE_LOINC, "Pulse rate"),
    ),
}
LOW_SPO2: Final = AlertRule(
    value="spo2",
    below=90.0,
    alert="low_spo2",
    severity="critical",
    message="Blood oxygen low (SpO2 below 90 %): see a doctor now / 血氧偏低,请马上就医",
    name_zh="血氧偏低",
    what_zh="血氧偏低({value})",
)

KINDS: Final[Mapping[str, KindSpec]] = MappingProxyType(
    {
        k.name: k
        for k in (
            _kind(
                "blood_pressure",
                Label("血压", "blood pressure"),
                "clinical",
                "spot",
                {
                    "systolic": ValueSpec(
                        MMHG,
                        Label("收缩压", "systolic"),
                        required=True,
                        plausible=(50, 300),
                        trend=5.0,
                        fhir=Fhir(
                            150021,
                            "MDC_PRESS_BLD_NONINV_SYS",
                            (("8480-6", "Systolic blood pressure"),),
                            "Systolic blood pressure",
                            component=True,
                        ),
                    ),
                    "diastolic": ValueSpec(
                        MMHG,
                        Label("舒张压", "diastolic"),
                        required=True,
                        plausible=(25, 200),
                        trend=3.0,
                        fhir=Fhir(
                            150022,
                            "MDC_PRESS_BLD_NONINV_DIA",
                            (("8462-4", "Diastolic blood pressure"),),
                            "Diastolic blood pressure",
                            component=True,
                        ),
                    ),
                    "mean_arterial_pressure": ValueSpec(
                        MMHG,
                        Label("平均动脉压", "mean arterial pressure"),
                        plausible=(30, 250),
                        fhir=Fhir(
                            150023,
                            "MDC_PRESS_BLD_NONINV_MEAN",
                            (("8478-0", "Mean blood pressure"),),
                            "Mean blood pressure",
                            component=True,
                        ),
                    ),
                    "pulse_rate": ValueSpec(
                        PER_MIN,
                        Label("脉搏", "pulse"),
                        plausible=(25, 250),
                        trend=5.0,
                        fhir=Fhir(149546, "MDC_PULS_RATE_NON_INV", _HEART_RATE_LOINC, "Pulse rate"),
                    ),
                },
                classify="bp",
                fhir_panel=Fhir(
                    150020,
                    "MDC_PRESS_BLD_NONINV",
                    (("85354-9", "Blood pressure panel with all children optional"),),
                    "Blood pressure",
                ),
            ),
            _kind(
                "weight",
                Label("体重", "weight"),
                "clinical",
                "spot",
                {"weight": _WEIGHT, "bmi": _BMI, "height": _HEIGHT},
                classify="bmi",
            ),
            _kind(
                "body_composition",
                Label("人体成分", "body composition"),
                "clinical",
                "spot",
                {
                    "weight": _WEIGHT,
                    "body_fat_pct": ValueSpec(
                        PERCENT,
                        Label("体脂率", "body fat"),
                        plausible=(2, 75),
                        trend=1.0,
                        fhir=Fhir(
                            188748,
                            "MDC_BODY_FAT",
                            (("41982-0", "Percentage of body fat Measured"),),
                            "Body fat",
                            vital_sign=False,
                        ),
                    ),
                    "fat_mass": ValueSpec(KG, Label("脂肪量", "fat mass"), not_mapped=_UNVERIFIED),
                    "fat_free_mass": ValueSpec(
                        KG,
                        Label("去脂体重", "fat-free mass"),
                        fhir=Fhir(188756, "MDC_MASS_BODY_FAT_FREE", (), "Fat-free mass", vital_sign=False),
                    ),
                    "muscle_mass": ValueSpec(
                        KG, Label("肌肉量", "muscle mass"), trend=1.0, not_mapped=_UNVERIFIED
                    ),
                    "muscle_pct": ValueSpec(
                        PERCENT, Label("肌肉率", "muscle"), plausible=(5, 95), not_mapped=_UNVERIFIED
                    ),
                    "soft_lean_mass": ValueSpec(
                        KG,
                        Label("软组织瘦体重", "soft lean mass"),
                        fhir=Fhir(188760, "MDC_MASS_BODY_SOFT_LEAN", (), "Soft lean mass", vital_sign=False),
                    ),
                    "bone_mass": ValueSpec(KG, Label("骨量", "bone mass"), not_mapped=_UNVERIFIED),
                    "body_water_mass": ValueSpec(
                        KG,
                        Label("水分量", "body water"),
                        fhir=Fhir(188764, "MDC_BODY_WATER", (), "Body water", vital_sign=False),
                    ),
                    "body_water_pct": ValueSpec(
                        PERCENT,
                        Label("水分率", "body water"),
                        plausible=(20, 85),
                        not_mapped=_UNVERIFIED,
                    ),
                    "basal_metabolism": ValueSpec(
                        KJ, Label("基础代谢", "basal metabolism"), not_mapped=_UNVERIFIED
                    ),
                    "visceral_fat_rating": ValueSpec(
                        ONE, Label("内脏脂肪等级", "visceral fat rating"), not_mapped=_UNVERIFIED
                    ),
                    "metabolic_age": ValueSpec(
                        YEAR, Label("代谢年龄", "metabolic age"), not_mapped=_UNVERIFIED
                    ),
                    "impedance": ValueSpec(
                        OHM, Label("阻抗", "impedance"), plausible=(100, 2000), not_mapped=_UNVERIFIED
                    ),
                    "bmi": _BMI,
                    "height": _HEIGHT,
                },
                classify="bmi",
            ),
            _kind(
                "heart_rate",
                Label("心率", "heart rate"),
                "telemetry",
                "stream",
                {
                    "heart_rate": ValueSpec(
                        PER_MIN,
                        Label("心率", "heart rate"),
                        required=True,
                        plausible=(25, 250),
                        trend=5.0,
                        fhir=Fhir(149514, "MDC_PULS_RATE", _HEART_RATE_LOINC, "Heart rate"),
                    )
                },
            ),
            _kind(
                "position",
                Label("位置", "position"),
                "telemetry",
                "stream",
                {
                    "latitude": ValueSpec(DEG, Label("纬度", "latitude"), required=True, plausible=(-90, 90)),
                    "longitude": ValueSpec(
                        DEG, Label("经度", "longitude"), required=True, plausible=(-180, 180)
                    ),
                    "accuracy_m": ValueSpec(M, Label("精度", "accuracy"), plausible=(0, 100_000)),
                    "elevation": ValueSpec(M, Label("海拔", "elevation")),
                    "speed": ValueSpec(M_PER_S, Label("速度", "speed")),
                    "heading": ValueSpec(DEG, Label("方向", "heading")),
                },
                not_mapped=(
                    "position fixes have no PHD IG profile or MDC observation type; "
                    "they stay in the hut format and are not sent in FHIR"
                ),
            ),
            _kind(
                "spo2", Label("血氧", "blood oxygen"), "clinical", "spot", _SPO2_VALUES, alerts=(LOW_SPO2,)
            ),
            # a pulse oximeter's continuous measurement (about 1/s while the finger is in)
            _kind(
                "spo2_stream",
                Label("连续血氧", "blood oxygen (continuous)"),
                "telemetry",
                "stream",
                _SPO2_VALUES,
                alerts=(LOW_SPO2,),
            ),
            _kind(
                "temperature",
                Label("体温", "temperature"),
                "clinical",
                "spot",
                {
                    "temperature": ValueSpec(
                        CEL,
                        Label("体温", "temperature"),
                        required=True,
                        plausible=(30, 45),
                        fhir=Fhir(
                            150364, "MDC_TEMP_BODY", (("8310-5", "Body temperature"),), "Body temperature"
                        ),
                    )
                },
            ),
        )
    }
)

#: Kind names, in catalogue order (the ``kind`` enum of the wire contract and the API).
KIND_NAMES: Final[tuple[str, ...]] = tuple(KINDS)
#: Spot kinds: a reading re-sent without a device time stamp is a duplicate (drivers/ble/dedup.py).
SPOT_KINDS: Final = frozenset(k for k, s in KINDS.items() if s.mode == "spot")

#: How the kiosk shows a UCUM unit (zh, en).
UNIT_LABELS: Final[Mapping[str, Label]] = MappingProxyType(
    {
        MMHG: Label("mmHg", "mmHg"),
        PER_MIN: Label("次/分", "/min"),
        KG: Label("公斤", "kg"),
        PERCENT: Label("%", "%"),
        OHM: Label("Ω", "Ω"),
        KJ: Label("千焦", "kJ"),
        KG_PER_M2: Label("kg/m²", "kg/m²"),
        CM: Label("厘米", "cm"),
        M: Label("米", "m"),
        DEG: Label("°", "°"),
        YEAR: Label("岁", "years"),
        M_PER_S: Label("米/秒", "m/s"),
        CEL: Label("℃", "°C"),
        ONE: Label("", ""),
    }
)

# Units a device may report that the gateway converts on the way in.
CONVERSIONS: Final[Mapping[tuple[str, str], float]] = MappingProxyType(
    {
        ("m", "cm"): 100.0,
        ("kPa", "mm[Hg]"): 7.50061683,
        ("[lb_av]", "kg"): 0.45359237,
        ("kcal", "kJ"): 4.184,
    }
)


def normalise(kind: str, name: str, value: float, unit: str) -> tuple[float, str] | None:
    """Express ``value unit`` in the kind's unit for ``name``; None when the name is unknown."""
    spec = KINDS[kind].values.get(name)
    if spec is None:
        return None
    if unit == spec.unit:
        return value, unit
    factor = CONVERSIONS.get((unit, spec.unit))
    if factor is None:
        return None
    return value * factor, spec.unit


def plausible_defaults() -> dict[str, dict[str, tuple[float, float]]]:
    """``[clinical] plausible``'s defaults: kind -> value -> (low, high)."""
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for k, spec in KINDS.items():
        ranges = {n: v.plausible for n, v in spec.values.items() if v.plausible is not None}
        if ranges:
            out[k] = ranges
    return out


def alert_rules() -> dict[str, AlertRule]:
    """Every threshold alert by its alert kind."""
    return {rule.alert: rule for spec in KINDS.values() for rule in spec.alerts}


def display() -> dict[str, object]:
    """The catalogue's display part, for the kiosk (JSON-ready)."""
    return {
        "kinds": {
            k: {
                "label": {"zh": s.label.zh, "en": s.label.en},
                "lane": s.lane,
                "mode": s.mode,
                "values": {
                    n: {"label": {"zh": v.label.zh, "en": v.label.en}, "unit": v.unit}
                    for n, v in s.values.items()
                },
            }
            for k, s in KINDS.items()
        },
        "units": {u: {"zh": lab.zh, "en": lab.en} for u, lab in UNIT_LABELS.items()},
    }
