"""Clinical checks: plausibility, blood-pressure and BMI classification, crisis detection.

Pure functions over :class:`ClinicalSettings` (built from ``[clinical]`` in the config). Defaults:

* blood pressure: 中国高血压防治指南 (2018 revision) -- normal < 120/80, high-normal 120-139 and/or
  80-89, grade 1 140-159 and/or 90-99, grade 2 160-179 and/or 100-109, grade 3 >= 180 and/or
  >= 110, isolated systolic hypertension >= 140 with < 90 (graded by the systolic value); when
  systolic and diastolic fall in different levels the higher one wins. Values are compared
  after rounding to whole mm[Hg] (devices reporting kPa give fractions).
* BMI: WS/T 428-2013 (adults) -- < 18.5 underweight, 18.5-23.9 normal, 24.0-27.9 overweight,
  >= 28.0 obese; BMI is compared after rounding to one decimal.

One reading is not a diagnosis (hypertension is diagnosed on three days); the labels describe
the level of this reading and the advice tells the resident what to do now.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Literal

from drivers.measurement import Value
from gateway.config import ClinicalConfig
from uplink.codec import Classification

BP_GUIDELINE = "中国高血压防治指南 (Chinese guidelines for the prevention and treatment of hypertension)"
BP_VERSION = "2018 revision"
BMI_GUIDELINE = "WS/T 428-2013 成人体重判定 (Criteria of weight for adults)"
BMI_VERSION = "2013"
LOCAL_SUFFIX = " + local thresholds"

BpCategory = Literal["normal", "high_normal", "grade_1", "grade_2", "grade_3", "isolated_systolic"]
BmiCategory = Literal["underweight", "normal", "overweight", "obese"]


@dataclass(frozen=True, slots=True)
class BpLimits:
    """Lower bounds (mm[Hg]) of high-normal, grade 1, 2 and 3."""

    systolic: tuple[float, float, float, float] = (120, 140, 160, 180)
    diastolic: tuple[float, float, float, float] = (80, 90, 100, 110)


@dataclass(frozen=True, slots=True)
class BmiLimits:
    normal: float = 18.5
    overweight: float = 24.0
    obese: float = 28.0
    min_age: int = 18


@dataclass(frozen=True, slots=True)
class ClinicalSettings:
    plausible: Mapping[str, Mapping[str, tuple[float, float]]]
    bp: BpLimits = BpLimits()
    bmi: BmiLimits = BmiLimits()
    crisis_systolic: float = 180
    crisis_diastolic: float = 110
    low_battery_pct: float = 15.0

    @classmethod
    def from_config(cls, cfg: ClinicalConfig) -> ClinicalSettings:
        b = cfg.bp
        return cls(
            plausible=MappingProxyType({k: MappingProxyType(dict(v)) for k, v in cfg.plausible.items()}),
            bp=BpLimits(
                systolic=(b.high_normal.systolic, b.grade_1.systolic, b.grade_2.systolic, b.grade_3.systolic),
                diastolic=(
                    b.high_normal.diastolic,
                    b.grade_1.diastolic,
                    b.grade_2.diastolic,
                    b.grade_3.diastolic,
                ),
            ),
            bmi=BmiLimits(cfg.bmi.normal, cfg.bmi.overweight, cfg.bmi.obese, cfg.bmi.min_age),
            crisis_systolic=cfg.crisis.systolic,
            crisis_diastolic=cfg.crisis.diastolic,
            low_battery_pct=cfg.low_battery_pct,
        )

    @classmethod
    def default(cls) -> ClinicalSettings:
        return cls.from_config(ClinicalConfig())


@dataclass(frozen=True, slots=True)
class ClinicalResult:
    guideline: str
    version: str
    category: str
    label_zh: str
    label_en: str
    advice_zh: str
    advice_en: str
    level: int = 0
    """0 normal ... 5 (BP: grade 3); for sorting and colour on the kiosk"""
    crisis: bool = False

    def to_classification(self) -> Classification:
        return Classification(
            guideline=self.guideline,
            version=self.version,
            category=self.category,
            label=self.label_en,
            advice=self.advice_en,
            label_zh=self.label_zh,
            advice_zh=self.advice_zh,
        )


# ---------------------------------------------------------------------------- plausibility


def check_plausible(kind: str, values: Mapping[str, Value], settings: ClinicalSettings) -> tuple[str, ...]:
    """``implausible:<name>`` for every value outside its configured range (bounds included)."""
    ranges = settings.plausible.get(kind, {})
    flags = []
    for name, v in values.items():
        rng = ranges.get(name)
        if rng is None:
            continue
        if not math.isfinite(v.value) or not rng[0] <= v.value <= rng[1]:
            flags.append(f"implausible:{name}")
    return tuple(flags)


def check_consistent(kind: str, values: Mapping[str, Value]) -> tuple[str, ...]:
    """Values that cannot be true together: a systolic not above its diastolic is a misread or a
    typing error, never a crisis (it would ring the family's phones)."""
    if kind == "blood_pressure":
        sys_, dia = values.get("systolic"), values.get("diastolic")
        if sys_ is not None and dia is not None and sys_.value <= dia.value:
            return (INCONSISTENT_BP,)
    return ()


INCONSISTENT_BP = "inconsistent:systolic_not_above_diastolic"
BP_ORDER_ERROR = (
    "systolic (高压) must be above diastolic (低压): check the two numbers / 高压必须高于低压，请核对"
)

# ---------------------------------------------------------------------------- blood pressure

_GRADE_LABELS = {
    0: ("正常血压", "Normal blood pressure"),
    1: ("正常高值", "High-normal blood pressure"),
    2: ("1级高血压(轻度)", "Grade 1 hypertension (mild)"),
    3: ("2级高血压(中度)", "Grade 2 hypertension (moderate)"),
    4: ("3级高血压(重度)", "Grade 3 hypertension (severe)"),
}
_CODES: dict[int, BpCategory] = {0: "normal", 1: "high_normal", 2: "grade_1", 3: "grade_2", 4: "grade_3"}
_ADVICE = {
    0: ("血压正常。请保持健康的生活方式。", "Normal blood pressure. Keep up a healthy lifestyle."),
    1: (
        "血压正常高值。请少吃盐、多活动,定期复测。",
        "High-normal blood pressure. Eat less salt, stay active and measure regularly.",
    ),
    2: (
        "血压偏高。请静坐休息,5分钟后再测一次;如仍偏高,请告诉村医。",
        "High reading. Sit quietly and measure again in 5 minutes; if it stays high, "
        "tell the village doctor.",
    ),
    3: (
        "血压明显偏高。请5分钟后再测一次,并在今天找村医看看。",
        "Clearly high reading. Measure again in 5 minutes and see the village doctor today.",
    ),
    4: ("血压很高。请马上找医生。", "Very high blood pressure. See a doctor now."),
}
CRISIS_ADVICE = (
    "血压达到危急水平。请马上找医生,不要独自离开。",
    "Blood pressure at crisis level. See a doctor now; do not leave alone.",
)


def _whole(x: float) -> Decimal:
    return Decimal(repr(x)).quantize(Decimal(1), rounding=ROUND_HALF_UP)


def _level(value: Decimal, limits: tuple[float, float, float, float]) -> int:
    level = 0
    for i, lo in enumerate(limits, start=1):
        if value >= Decimal(repr(lo)):
            level = i
    return level


def bp_guideline(settings: ClinicalSettings) -> tuple[str, str]:
    if settings.bp == BpLimits():
        return BP_GUIDELINE, BP_VERSION
    return BP_GUIDELINE + LOCAL_SUFFIX, BP_VERSION + LOCAL_SUFFIX


def is_crisis(systolic: float, diastolic: float, settings: ClinicalSettings) -> bool:
    return _whole(systolic) >= Decimal(repr(settings.crisis_systolic)) or _whole(diastolic) >= Decimal(
        repr(settings.crisis_diastolic)
    )


def classify_bp(systolic: float, diastolic: float, settings: ClinicalSettings) -> ClinicalResult:
    """Classify one reading; the higher of the systolic and diastolic levels wins."""
    if not (math.isfinite(systolic) and math.isfinite(diastolic)):
        raise ValueError("blood pressure values must be finite")
    s, d = _whole(systolic), _whole(diastolic)
    s_level, d_level = _level(s, settings.bp.systolic), _level(d, settings.bp.diastolic)
    level = max(s_level, d_level)
    guideline, version = bp_guideline(settings)
    crisis = is_crisis(systolic, diastolic, settings)
    advice = CRISIS_ADVICE if crisis else _ADVICE[level]
    if s_level >= 2 and d_level < 2:
        grade = s_level - 1
        return ClinicalResult(
            guideline,
            version,
            "isolated_systolic",
            f"单纯收缩期高血压({grade}级)",
            f"Isolated systolic hypertension (grade {grade})",
            advice[0],
            advice[1],
            level=level,
            crisis=crisis,
        )
    zh, en = _GRADE_LABELS[level]
    return ClinicalResult(guideline, version, _CODES[level], zh, en, advice[0], advice[1], level, crisis)


# ---------------------------------------------------------------------------- BMI

_BMI = {
    0: (
        "underweight",
        "体重过低",
        "Underweight",
        "体重偏低。请注意营养;如最近体重下降,请告诉村医。",
        "Underweight. Eat well; tell the village doctor if you have been losing weight.",
    ),
    1: ("normal", "体重正常", "Normal weight", "体重正常,请继续保持。", "Normal weight. Keep it up."),
    2: (
        "overweight",
        "超重",
        "Overweight",
        "超重。请控制饮食、多活动。",
        "Overweight. Watch your diet and stay active.",
    ),
    3: (
        "obese",
        "肥胖",
        "Obese",
        "肥胖。请控制饮食、多活动,并请村医给出建议。",
        "Obese. Watch your diet, stay active and ask the village doctor for advice.",
    ),
}


def bmi_of(weight_kg: float, height_cm: float) -> float:
    """BMI (kg/m2) rounded to one decimal."""
    if not (math.isfinite(weight_kg) and math.isfinite(height_cm)) or weight_kg <= 0 or height_cm <= 0:
        raise ValueError("weight and height must be positive numbers")
    return round_bmi(weight_kg / (height_cm / 100.0) ** 2)


def round_bmi(bmi: float) -> float:
    return float(Decimal(repr(bmi)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def classify_bmi(bmi: float, settings: ClinicalSettings) -> ClinicalResult:
    if not math.isfinite(bmi):
        raise ValueError("BMI must be finite")
    value = Decimal(repr(round_bmi(bmi)))
    limits = settings.bmi
    level = 0
    for i, lo in enumerate((limits.normal, limits.overweight, limits.obese), start=1):
        if value >= Decimal(repr(lo)):
            level = i
    code, zh, en, advice_zh, advice_en = _BMI[level]
    if (limits.normal, limits.overweight, limits.obese) == (18.5, 24.0, 28.0):
        guideline, version = BMI_GUIDELINE, BMI_VERSION
    else:
        guideline, version = BMI_GUIDELINE + LOCAL_SUFFIX, BMI_VERSION + LOCAL_SUFFIX
    return ClinicalResult(guideline, version, code, zh, en, advice_zh, advice_en, level)
