from __future__ import annotations

import math

import pytest

from drivers.measurement import Value
from gateway.clinical import (
    BMI_GUIDELINE,
    BP_GUIDELINE,
    BP_VERSION,
    ClinicalSettings,
    bmi_of,
    check_plausible,
    classify_bmi,
    classify_bp,
    is_crisis,
)
from gateway.config import ClinicalConfig, ConfigError, parse

S = ClinicalSettings.default()


@pytest.mark.parametrize(
    ("sys", "dia", "category"),
    [
        (119, 79, "normal"),
        (120, 79, "high_normal"),
        (119, 80, "high_normal"),
        (120, 80, "high_normal"),
        (139, 89, "high_normal"),
        (140, 89, "isolated_systolic"),
        (139, 90, "grade_1"),
        (140, 90, "grade_1"),
        (159, 99, "grade_1"),
        (160, 99, "grade_2"),
        (159, 100, "grade_2"),
        (160, 100, "grade_2"),
        (179, 109, "grade_2"),
        (180, 109, "grade_3"),
        (179, 110, "grade_3"),
        (180, 110, "grade_3"),
        (150, 85, "isolated_systolic"),
        (125, 95, "grade_1"),  # the higher of the two wins
        (118, 105, "grade_2"),
        (90, 60, "normal"),
    ],
)
def test_bp_boundaries(sys: float, dia: float, category: str) -> None:
    assert classify_bp(sys, dia, S).category == category


def test_bp_result_carries_guideline_labels_and_advice() -> None:
    r = classify_bp(128, 82, S)
    assert (r.guideline, r.version) == (BP_GUIDELINE, BP_VERSION)
    assert "2018" in r.version and "高血压" in r.guideline
    assert (r.label_zh, r.label_en) == ("正常高值", "High-normal blood pressure")
    assert r.advice_zh and r.advice_en and not r.crisis
    c = r.to_classification()
    assert (c.category, c.label, c.label_zh, c.advice, c.advice_zh) == (
        "high_normal",
        r.label_en,
        r.label_zh,
        r.advice_en,
        r.advice_zh,
    )


def test_bp_advice_by_level() -> None:
    assert "5 minutes" in classify_bp(145, 92, S).advice_en
    assert "5分钟" in classify_bp(145, 92, S).advice_zh
    g2 = classify_bp(165, 95, S)
    assert "village doctor today" in g2.advice_en and "今天" in g2.advice_zh
    g3 = classify_bp(185, 100, S)
    assert g3.crisis and "doctor now" in g3.advice_en and "马上" in g3.advice_zh


def test_isolated_systolic_is_graded_by_systolic() -> None:
    assert classify_bp(150, 85, S).label_en == "Isolated systolic hypertension (grade 1)"
    assert classify_bp(170, 70, S).label_en == "Isolated systolic hypertension (grade 2)"
    r = classify_bp(185, 70, S)
    assert r.category == "isolated_systolic" and r.label_zh == "单纯收缩期高血压(3级)" and r.crisis


def test_kpa_fractions_are_rounded_to_whole_mmhg() -> None:
    assert classify_bp(139.4, 70, S).category == "high_normal"
    assert classify_bp(139.5, 70, S).category == "isolated_systolic"
    assert classify_bp(18.7 * 7.50061683, 80, S).category == "isolated_systolic"  # 140.26


def test_crisis_threshold() -> None:
    assert not is_crisis(179, 109, S)
    assert is_crisis(180, 60, S) and is_crisis(120, 110, S)
    lower = ClinicalSettings.from_config(
        ClinicalConfig.model_validate({"crisis": {"systolic": 170, "diastolic": 105}})
    )
    r = classify_bp(172, 90, lower)
    assert r.category == "grade_2" and r.crisis and "doctor now" in r.advice_en


def test_configured_thresholds_say_so() -> None:
    cfg = ClinicalConfig.model_validate(
        {
            "bp": {
                "grade_1": {"systolic": 130, "diastolic": 80},
                "high_normal": {"systolic": 120, "diastolic": 75},
            }
        }
    )
    s = ClinicalSettings.from_config(cfg)
    r = classify_bp(132, 70, s)
    assert r.category == "isolated_systolic"
    assert "local thresholds" in r.guideline and "local thresholds" in r.version


def test_bad_threshold_order_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as e:
        parse({"clinical": {"bp": {"grade_2": {"systolic": 130, "diastolic": 100}}}})
    assert any("clinical.bp" in line for line in e.value.errors)
    with pytest.raises(ConfigError):
        parse({"clinical": {"bmi": {"overweight": 30}}})


@pytest.mark.parametrize(
    ("bmi", "category"),
    [
        (18.4, "underweight"),
        (18.5, "normal"),
        (23.9, "normal"),
        (23.94, "normal"),
        (23.95, "overweight"),  # one decimal, half up
        (24.0, "overweight"),
        (27.9, "overweight"),
        (28.0, "obese"),
        (40.0, "obese"),
    ],
)
def test_bmi_boundaries(bmi: float, category: str) -> None:
    r = classify_bmi(bmi, S)
    assert r.category == category
    assert r.guideline == BMI_GUIDELINE and r.version == "2013"
    assert r.label_zh and r.label_en and r.advice_zh and r.advice_en


def test_bmi_from_weight_and_height() -> None:
    assert bmi_of(70, 175) == 22.9
    assert bmi_of(73.5, 175) == 24.0
    with pytest.raises(ValueError):
        bmi_of(70, 0)
    with pytest.raises(ValueError):
        bmi_of(math.nan, 170)


def test_plausibility() -> None:
    ok = {"systolic": Value(120, "mm[Hg]"), "diastolic": Value(80, "mm[Hg]"), "pulse_rate": Value(60, "/min")}
    assert check_plausible("blood_pressure", ok, S) == ()
    bad = {**ok, "systolic": Value(400, "mm[Hg]"), "pulse_rate": Value(math.nan, "/min")}
    assert check_plausible("blood_pressure", bad, S) == ("implausible:systolic", "implausible:pulse_rate")
    assert check_plausible("blood_pressure", {"systolic": Value(300, "mm[Hg]")}, S) == ()  # bounds included
    assert check_plausible("weight", {"weight": Value(0.1, "kg")}, S) == ("implausible:weight",)


def test_plausibility_ranges_are_configurable_and_merged() -> None:
    cfg = parse({"clinical": {"plausible": {"blood_pressure": {"systolic": [60, 250]}}}}).clinical
    assert cfg.plausible["blood_pressure"]["systolic"] == (60, 250)
    assert cfg.plausible["blood_pressure"]["diastolic"] == (25, 200)  # default kept
    assert "temperature" in cfg.plausible
    s = ClinicalSettings.from_config(cfg)
    assert check_plausible("blood_pressure", {"systolic": Value(260, "mm[Hg]")}, s) == (
        "implausible:systolic",
    )
    for bad in (
        {"blood_pressur": {"systolic": [1, 2]}},
        {"blood_pressure": {"sistolic": [1, 2]}},
        {"blood_pressure": {"systolic": [200, 100]}},
    ):
        with pytest.raises(ConfigError):
            parse({"clinical": {"plausible": bad}})


def test_non_finite_is_refused() -> None:
    with pytest.raises(ValueError):
        classify_bp(math.nan, 80, S)
    with pytest.raises(ValueError):
        classify_bmi(math.inf, S)


def test_documented_configuration_example_is_valid() -> None:
    import tomllib
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "clinical.md").read_text(encoding="utf-8")
    block = text.split("```toml\n", 1)[1].split("```", 1)[0]
    cfg = parse(tomllib.loads(block))
    assert cfg.clock.device_timezone == "Asia/Shanghai"
    assert cfg.clinical.plausible["blood_pressure"]["systolic"] == (60, 280)
    assert ClinicalSettings.from_config(cfg.clinical).bp == ClinicalSettings.default().bp
