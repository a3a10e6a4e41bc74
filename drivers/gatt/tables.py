"""Field tables of the GATT health characteristics (protocol brief, sections 3-7), as data."""

from __future__ import annotations

from drivers.gatt.walker import Bit, Field, Layout

# Blood Pressure Measurement 0x2A35 and Intermediate Cuff Pressure 0x2A36 share one layout.
BPM_KPA = 0x01
BLOOD_PRESSURE = Layout(
    "blood pressure measurement",
    flags_size=1,
    fields=(
        Field("systolic", "sfloat"),
        Field("diastolic", "sfloat"),
        Field("mean_arterial_pressure", "sfloat"),
        Field("timestamp", "date_time", when=0x02),
        Field("pulse_rate", "sfloat", when=0x04),
        Field("user_id", "u8", when=0x08),
        Field("measurement_status", "u16", when=0x10),
    ),
)

BPM_STATUS = (
    Bit("body_movement", 0),
    Bit("cuff_too_loose", 1),
    Bit("irregular_pulse", 2),
    Bit("pulse_rate_range", 3, 2),
    Bit("improper_position", 5),
)

BP_FEATURE = (
    Bit("body_movement_detection", 0),
    Bit("cuff_fit_detection", 1),
    Bit("irregular_pulse_detection", 2),
    Bit("pulse_rate_range_detection", 3),
    Bit("measurement_position_detection", 4),
    Bit("multiple_bonds", 5),
)

# Weight Measurement 0x2A9D
WM_IMPERIAL = 0x01
WEIGHT = Layout(
    "weight measurement",
    flags_size=1,
    fields=(
        Field("weight", "u16"),
        Field("timestamp", "date_time", when=0x02),
        Field("user_id", "u8", when=0x04),
        Field("bmi", "u16", when=0x08),
        Field("height", "u16", when=0x08),
    ),
    unsuccessful=("weight", 0xFFFF),
    kept_when_unsuccessful=frozenset({"timestamp", "user_id"}),
)

WEIGHT_SCALE_FEATURE = (
    Bit("timestamp_supported", 0),
    Bit("multiple_users_supported", 1),
    Bit("bmi_supported", 2),
    Bit("weight_resolution_code", 3, 4),
    Bit("height_resolution_code", 7, 3),
)

# Body Composition Measurement 0x2A9C
BCM_IMPERIAL = 0x0001
BCM_MULTIPLE_PACKET = 0x1000
BODY_COMPOSITION = Layout(
    "body composition measurement",
    flags_size=2,
    fields=(
        Field("body_fat", "u16"),
        Field("timestamp", "date_time", when=0x0002),
        Field("user_id", "u8", when=0x0004),
        Field("basal_metabolism", "u16", when=0x0008),
        Field("muscle_pct", "u16", when=0x0010),
        Field("muscle_mass", "u16", when=0x0020),
        Field("fat_free_mass", "u16", when=0x0040),
        Field("soft_lean_mass", "u16", when=0x0080),
        Field("body_water_mass", "u16", when=0x0100),
        Field("impedance", "u16", when=0x0200),
        Field("weight", "u16", when=0x0400),
        Field("height", "u16", when=0x0800),
    ),
    unsuccessful=("body_fat", 0xFFFF),
    kept_when_unsuccessful=frozenset({"timestamp", "user_id"}),
)

BODY_COMPOSITION_FEATURE = (
    Bit("timestamp_supported", 0),
    Bit("multiple_users_supported", 1),
    Bit("basal_metabolism_supported", 2),
    Bit("muscle_percentage_supported", 3),
    Bit("muscle_mass_supported", 4),
    Bit("fat_free_mass_supported", 5),
    Bit("soft_lean_mass_supported", 6),
    Bit("body_water_mass_supported", 7),
    Bit("impedance_supported", 8),
    Bit("weight_supported", 9),
    Bit("height_supported", 10),
    Bit("mass_resolution_code", 11, 4),
    Bit("height_resolution_code", 15, 3),
)

# Resolution codes shared by the weight scale and body composition features (brief 4.2).
MASS_RESOLUTION: dict[int, tuple[float, float]] = {
    1: (0.5, 1.0),
    2: (0.2, 0.5),
    3: (0.1, 0.2),
    4: (0.05, 0.1),
    5: (0.02, 0.05),
    6: (0.01, 0.02),
    7: (0.005, 0.01),
}
HEIGHT_RESOLUTION: dict[int, tuple[float, float]] = {1: (0.01, 1.0), 2: (0.005, 0.5), 3: (0.001, 0.1)}

# Heart Rate Measurement 0x2A37
HEART_RATE = Layout(
    "heart rate measurement",
    flags_size=1,
    fields=(
        Field("heart_rate", "u8", unless=0x01),
        Field("heart_rate", "u16", when=0x01),
        Field("energy_expended", "u16", when=0x08),
        Field("rr_intervals", "u16_rest", when=0x10),
    ),
)

# Location and Speed 0x2A67
LOCATION_AND_SPEED = Layout(
    "location and speed",
    flags_size=2,
    fields=(
        Field("instantaneous_speed", "u16", when=0x0001),
        Field("total_distance", "u24", when=0x0002),
        Field("latitude", "s32", when=0x0004),
        Field("longitude", "s32", when=0x0004),
        Field("elevation", "s24", when=0x0008),
        Field("heading", "u16", when=0x0010),
        Field("rolling_time", "u8", when=0x0020),
        Field("utc_time", "date_time", when=0x0040),
    ),
)

LNS_FLAGS = (
    Bit("position_status", 7, 2),
    Bit("speed_distance_format", 9),
    Bit("elevation_source", 10, 2),
    Bit("heading_source", 12),
)

# Record Access Control Point 0x2A52 (brief section 8): op code + operator + operand. Not a
# flags layout (the first octet is an op code, matched by value), so these are code tables; the
# requests the gateway writes and the responses it waits for are read by drivers/gatt/racp.py.
RACP_OPCODES: dict[int, str] = {
    0x01: "report_stored_records",
    0x02: "delete_stored_records",
    0x03: "abort_operation",
    0x04: "report_number_of_stored_records",
    0x05: "number_of_stored_records_response",
    0x06: "response_code",
}
RACP_OPERATORS: dict[int, str] = {
    0x00: "null",
    0x01: "all_records",
    0x02: "less_than_or_equal_to",
    0x03: "greater_than_or_equal_to",
    0x04: "within_range_of",
    0x05: "first_record",
    0x06: "last_record",
}
RACP_RESPONSE_CODES: dict[int, str] = {
    0x01: "success",
    0x02: "op_code_not_supported",
    0x03: "invalid_operator",
    0x04: "operator_not_supported",
    0x05: "invalid_operand",
    0x06: "no_records_found",
    0x07: "abort_unsuccessful",
    0x08: "procedure_not_completed",
    0x09: "operand_not_supported",
}
RACP_FILTER_TYPES: dict[int, str] = {0x01: "sequence_number", 0x02: "user_facing_time"}
#: Op codes that take an operator other than Null (requests with a record filter) ...
RACP_FILTERED_REQUESTS = frozenset({0x01, 0x02, 0x04})
#: ... and those whose operator must be Null (abort, and the server's two responses).
RACP_NULL_OPERATOR_ONLY = frozenset({0x03, 0x05, 0x06})
#: Operators followed by a filter (filter type octet + value, or min + max for a range).
RACP_OPERATORS_WITH_OPERAND = frozenset({0x02, 0x03, 0x04})
