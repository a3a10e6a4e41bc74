"""Residents and devices, persisted in ``<state_dir>/registry.db`` (SQLite, WAL).

The daemon works from an immutable :class:`RegistrySnapshot` and takes a new one when
:meth:`Registry.changed` says another process (``hutgw residents ...``, the local API) wrote.
This module owns the tables ``residents`` and ``devices`` in that file; other components keep
their own tables beside them.

A resident id is the county health-record number (居民健康档案编号). It must never be a national
ID number (居民身份证号码): 18-character numbers shaped like one are refused, and so are card
numbers shaped like one.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, cast

from drivers.ble.devices import normalize_address
from gateway.errors import GatewayError

Sex = Literal["male", "female", "other", "unknown"]
SEXES: tuple[Sex, ...] = ("male", "female", "other", "unknown")
_SEX_ALIASES: Mapping[str, Sex] = MappingProxyType(
    {
        "male": "male",
        "m": "male",
        "男": "male",
        "female": "female",
        "f": "female",
        "女": "female",
        "other": "other",
        "o": "other",
        "其他": "other",
        "unknown": "unknown",
        "u": "unknown",
        "": "unknown",
        "未知": "unknown",
    }
)

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_NATIONAL_ID_SHAPE = re.compile(r"\d{17}[\dXx]")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_PHONE = re.compile(r"\+?[0-9][0-9 -]{4,22}")
MIN_BIRTH_YEAR = 1900
SEE_DEVICES = "see `hutgw devices list`"
MIN_HEIGHT_CM, MAX_HEIGHT_CM = 40.0, 250.0


# ---------------------------------------------------------------------------- errors


class RegistryError(GatewayError):
    """Family root of registry errors."""


class InvalidEntryError(RegistryError):
    """Bad field values; ``errors`` maps field -> message."""

    exit_code = 3

    def __init__(self, what: str, errors: Mapping[str, str], *, hint: str | None = None) -> None:
        super().__init__(
            f"{what}: " + "; ".join(f"{k}: {v}" for k, v in errors.items()),
            hint=hint or "correct the named field(s) and try again",
        )
        self.errors = dict(errors)


class DuplicateError(RegistryError):
    exit_code = 4


class UnknownEntryError(RegistryError):
    exit_code = 5


class InUseError(RegistryError):
    exit_code = 4


class CsvImportError(RegistryError):
    """The CSV file was refused; ``report`` lists every bad row. Nothing was imported."""

    exit_code = 3

    def __init__(self, message: str, report: ImportReport | None = None, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.report = report


# ---------------------------------------------------------------------------- entries


@dataclass(frozen=True, slots=True)
class ResidentEntry:
    id: str
    name: str
    sex: Sex = "unknown"
    birth_year: int | None = None
    height_cm: float | None = None
    guardians: tuple[str, ...] = ()
    consent: bool = True
    card_number: str | None = None

    def age_in(self, year: int) -> int | None:
        return None if self.birth_year is None else year - self.birth_year


@dataclass(frozen=True, slots=True)
class DeviceEntry:
    id: str
    profile: str
    address: str | None = None
    resident_id: str | None = None
    """owner of a personal device; None = shared hut device"""
    user_map: Mapping[int, str] = field(default_factory=lambda: MappingProxyType({}))
    """multi-user device: user index -> resident id"""
    added_at: datetime | None = None

    @property
    def shared(self) -> bool:
        return self.resident_id is None


@dataclass(frozen=True, slots=True)
class RegistrySnapshot:
    """Everything the pipeline needs, in memory and immutable."""

    residents: Mapping[str, ResidentEntry] = field(default_factory=lambda: MappingProxyType({}))
    devices: Mapping[str, DeviceEntry] = field(default_factory=lambda: MappingProxyType({}))
    devices_by_address: Mapping[str, DeviceEntry] = field(default_factory=lambda: MappingProxyType({}))
    residents_by_card: Mapping[str, ResidentEntry] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def of(cls, residents: Iterable[ResidentEntry], devices: Iterable[DeviceEntry]) -> RegistrySnapshot:
        rs = {r.id: r for r in residents}
        ds = {d.id: d for d in devices}
        return cls(
            residents=MappingProxyType(rs),
            devices=MappingProxyType(ds),
            devices_by_address=MappingProxyType({d.address: d for d in ds.values() if d.address}),
            residents_by_card=MappingProxyType({r.card_number: r for r in rs.values() if r.card_number}),
        )

    def resident(self, resident_id: str | None) -> ResidentEntry | None:
        return None if resident_id is None else self.residents.get(resident_id)

    def device(self, device_id: str) -> DeviceEntry | None:
        return self.devices.get(device_id)

    def device_at(self, address: str) -> DeviceEntry | None:
        return self.devices_by_address.get(normalize_address(address))

    def resident_by_card(self, card_number: str) -> ResidentEntry | None:
        return self.residents_by_card.get(card_number.strip())

    def guardians(self, resident_id: str | None) -> tuple[str, ...]:
        r = self.resident(resident_id)
        return r.guardians if r is not None else ()


# ---------------------------------------------------------------------------- validation


def looks_like_national_id(text: str) -> bool:
    """True for an 18-character PRC resident identity number: 17 digits + check digit/X whose
    birth-date part is a real date, or whose ISO 7064 check digit is right."""
    t = text.strip().replace(" ", "")
    if not _NATIONAL_ID_SHAPE.fullmatch(t):
        return False
    total = sum(int(c) * w for c, w in zip(t[:17], _WEIGHTS, strict=True))
    if _CHECK[total % 11] == t[17].upper():
        return True
    try:
        born = date(int(t[6:10]), int(t[10:12]), int(t[12:14]))
    except ValueError:
        return False
    return 1880 <= born.year <= 2100


_NATIONAL_ID_HINT = (
    "use the county health-record number (居民健康档案编号), never the national ID number (身份证号)"
)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _check_id(value: str, errors: dict[str, str], key: str, what: str) -> None:
    if not value:
        errors[key] = f"{what} is empty"
    elif looks_like_national_id(value):
        errors[key] = f"looks like a national ID number (身份证号); {_NATIONAL_ID_HINT}"
    elif not _ID.fullmatch(value):
        errors[key] = f"{what} {value!r} may only hold letters, digits, '.', '_' and '-' (max 64)"


def _guardian(value: str) -> str | None:
    """A guardian: a phone number (digits, optional +) or a resident id; None when neither."""
    v = value.strip()
    if _PHONE.fullmatch(v) and sum(c.isdigit() for c in v) >= 5:
        digits = re.sub(r"[ -]", "", v)
        if not looks_like_national_id(digits):
            return digits
        return None
    if _ID.fullmatch(v) and not looks_like_national_id(v):
        return v
    return None


def validate_resident(
    *,
    id: Any,
    name: Any,
    sex: Any = "unknown",
    birth_year: Any = None,
    height_cm: Any = None,
    guardians: Any = (),
    consent: Any = True,
    card_number: Any = None,
    this_year: int | None = None,
) -> ResidentEntry:
    """Normalise and check one resident; raises :class:`InvalidEntryError` naming every bad field."""
    errors: dict[str, str] = {}
    rid = _text(id)
    _check_id(rid, errors, "resident_id", "resident id")
    nm = _text(name)
    if not nm:
        errors["name"] = "name is empty"
    elif len(nm) > 100 or any(ord(c) < 32 for c in nm):
        errors["name"] = "name must be at most 100 printable characters"
    sx = _SEX_ALIASES.get(_text(sex).lower())
    if sx is None:
        errors["sex"] = f"{sex!r} is not one of male, female, other, unknown (男/女)"
    year_max = max(this_year or datetime.now(UTC).year, 2024)
    by: int | None = None
    if _text(birth_year):
        try:
            by = int(_text(birth_year))
        except ValueError:
            errors["birth_year"] = f"{birth_year!r} is not a year"
        else:
            if not MIN_BIRTH_YEAR <= by <= year_max:
                errors["birth_year"] = f"{by} is not between {MIN_BIRTH_YEAR} and {year_max}"
    h: float | None = None
    if _text(height_cm):
        try:
            h = float(_text(height_cm))
        except ValueError:
            errors["height_cm"] = f"{height_cm!r} is not a number"
        else:
            if not MIN_HEIGHT_CM <= h <= MAX_HEIGHT_CM:
                errors["height_cm"] = f"{h:g} cm is not between {MIN_HEIGHT_CM:g} and {MAX_HEIGHT_CM:g}"
    gs: list[str] = []
    raw_guardians = [guardians] if isinstance(guardians, str) else list(guardians or ())
    for g in raw_guardians:
        for part in re.split(r"[;|,]", _text(g)):
            if not part.strip():
                continue
            norm = _guardian(part)
            if norm is None:
                errors["guardians"] = f"{part.strip()!r} is neither a phone number nor a resident id"
            elif norm not in gs:
                gs.append(norm)
    card = _text(card_number) or None
    if card is not None:
        if looks_like_national_id(card):
            errors["card_number"] = (
                "looks like a national ID number (身份证号); use the health card or NFC tag"
            )
        elif len(card) > 64 or any(ord(c) < 32 for c in card):
            errors["card_number"] = "card number must be at most 64 printable characters"
    if isinstance(consent, str):
        c = consent.strip().lower()
        if c in ("", "1", "yes", "y", "true", "是"):
            consent_flag = True
        elif c in ("0", "no", "n", "false", "否"):
            consent_flag = False
        else:
            errors["consent"] = f"{consent!r} is not yes/no"
            consent_flag = False
    else:
        consent_flag = bool(consent)
    if errors:
        hint = _NATIONAL_ID_HINT if "national ID" in " ".join(errors.values()) else None
        raise InvalidEntryError(f"resident {_shown_id(rid) or '?'} refused", errors, hint=hint)
    return ResidentEntry(rid, nm, cast(Sex, sx), by, h, tuple(gs), consent_flag, card)


def validate_device(
    *,
    id: Any,
    profile: Any,
    address: Any = None,
    resident_id: Any = None,
    user_map: Mapping[Any, Any] | None = None,
    added_at: datetime | None = None,
) -> DeviceEntry:
    errors: dict[str, str] = {}
    did = _text(id)
    _check_id(did, errors, "id", "device id")
    prof = _text(profile)
    if not prof:
        errors["profile"] = "profile is empty"
    addr = normalize_address(_text(address)) or None
    owner = _text(resident_id) or None
    umap: dict[int, str] = {}
    for k, v in (user_map or {}).items():
        try:
            idx = int(k)
        except (TypeError, ValueError):
            errors[f"user_map.{k}"] = "user index must be a number"
            continue
        if not 0 <= idx < 255:
            errors[f"user_map.{k}"] = "user index must be 0..254 (255 means 'unknown user')"
        elif not _text(v):
            errors[f"user_map.{k}"] = "resident id is empty"
        else:
            umap[idx] = _text(v)
    if errors:
        raise InvalidEntryError(f"device {did or '?'} refused", errors)
    return DeviceEntry(did, prof, addr, owner, MappingProxyType(umap), added_at)


# ---------------------------------------------------------------------------- CSV import


@dataclass(frozen=True, slots=True)
class BadRow:
    line: int
    resident_id: str | None
    errors: Mapping[str, str]

    def describe(self) -> str:
        who = f" ({self.resident_id})" if self.resident_id else ""
        return f"line {self.line}{who}: " + "; ".join(f"{k}: {v}" for k, v in self.errors.items())


@dataclass(frozen=True, slots=True)
class ImportReport:
    rows: int
    imported: int
    updated: int = 0
    bad: tuple[BadRow, ...] = ()
    ignored_columns: tuple[str, ...] = ()

    @property
    def skipped(self) -> int:
        return len(self.bad)


def _shown_id(text: str) -> str | None:
    """A row's id for a report: never echo a national ID number."""
    t = text.strip()
    if not t:
        return None
    return "(national ID withheld)" if looks_like_national_id(t) else t


CSV_REQUIRED = ("resident_id", "name", "sex", "birth_year", "height_cm")
CSV_OPTIONAL = ("guardian_phone", "card_number", "consent")


def parse_residents_csv(
    text: str, *, existing: Mapping[str, ResidentEntry] | None = None, update: bool = False
) -> tuple[list[tuple[int, ResidentEntry]], list[BadRow], tuple[str, ...]]:
    """Parse CSV text (BOM already removed): good rows with their line, bad rows, ignored columns."""
    existing = existing or {}
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise CsvImportError("the CSV file is empty", hint="the first line must name the columns") from None
    except csv.Error as e:
        raise CsvImportError(f"line 1: not valid CSV: {e}") from None
    columns = [h.strip().lower() for h in header]
    missing = [c for c in CSV_REQUIRED if c not in columns]
    if missing:
        raise CsvImportError(
            f"line 1: missing column(s) {', '.join(missing)}",
            hint="the header must be: "
            + ",".join(CSV_REQUIRED)
            + " (optional: "
            + ",".join(CSV_OPTIONAL)
            + ")",
        )
    dupes = sorted({c for c in columns if columns.count(c) > 1 and c})
    if dupes:
        raise CsvImportError(f"line 1: column(s) named twice: {', '.join(dupes)}")
    ignored = tuple(c for c in columns if c not in CSV_REQUIRED + CSV_OPTIONAL)
    good: list[tuple[int, ResidentEntry]] = []
    bad: list[BadRow] = []
    seen_ids: dict[str, int] = {}
    seen_cards: dict[str, int] = {}
    existing_cards = {r.card_number: r.id for r in existing.values() if r.card_number}
    last_line = reader.line_num
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            bad.append(BadRow(last_line + 1, None, {"(row)": f"not valid CSV: {e}"}))
            break
        line = last_line + 1
        last_line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(columns):
            cells_msg = f"{len(row)} cells, header has {len(columns)}"
            bad.append(BadRow(line, _shown_id(row[0] if row else ""), {"(row)": cells_msg}))
            continue
        cells = dict(zip(columns, row, strict=True))
        try:
            entry = validate_resident(
                id=cells["resident_id"],
                name=cells["name"],
                sex=cells["sex"],
                birth_year=cells["birth_year"],
                height_cm=cells["height_cm"],
                guardians=cells.get("guardian_phone", ""),
                consent=cells.get("consent", ""),
                card_number=cells.get("card_number", ""),
            )
        except InvalidEntryError as e:
            bad.append(BadRow(line, _shown_id(cells["resident_id"]), e.errors))
            continue
        errors: dict[str, str] = {}
        if not entry.birth_year:
            errors["birth_year"] = "birth year is empty"
        if entry.id in seen_ids:
            errors["resident_id"] = f"duplicate: also on line {seen_ids[entry.id]}"
        elif entry.id in existing and not update:
            errors["resident_id"] = "already registered (use --update to replace registered residents)"
        if entry.card_number:
            if entry.card_number in seen_cards:
                errors["card_number"] = f"duplicate: also on line {seen_cards[entry.card_number]}"
            elif existing_cards.get(entry.card_number, entry.id) != entry.id:
                errors["card_number"] = f"already used by resident {existing_cards[entry.card_number]}"
        seen_ids.setdefault(entry.id, line)
        if entry.card_number:
            seen_cards.setdefault(entry.card_number, line)
        if errors:
            bad.append(BadRow(line, entry.id, errors))
        else:
            good.append((line, entry))
    return good, bad, ignored


# ---------------------------------------------------------------------------- the store

_SCHEMA = """
CREATE TABLE IF NOT EXISTS residents (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    sex TEXT NOT NULL CHECK (sex IN ('male', 'female', 'other', 'unknown')),
    birth_year INTEGER,
    height_cm REAL,
    guardians TEXT NOT NULL DEFAULT '[]',
    consent INTEGER NOT NULL DEFAULT 1,
    card_number TEXT UNIQUE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS devices (
    id TEXT PRIMARY KEY,
    profile TEXT NOT NULL,
    address TEXT UNIQUE,
    resident_id TEXT,
    user_map TEXT NOT NULL DEFAULT '{}',
    added_at TEXT NOT NULL
);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _resident_row(r: ResidentEntry) -> tuple[Any, ...]:
    return (
        r.id,
        r.name,
        r.sex,
        r.birth_year,
        r.height_cm,
        json.dumps(list(r.guardians), ensure_ascii=False),
        int(r.consent),
        r.card_number,
    )


def _resident_from(row: sqlite3.Row) -> ResidentEntry:
    return ResidentEntry(
        id=row["id"],
        name=row["name"],
        sex=row["sex"],
        birth_year=row["birth_year"],
        height_cm=row["height_cm"],
        guardians=tuple(json.loads(row["guardians"])),
        consent=bool(row["consent"]),
        card_number=row["card_number"],
    )


def _device_from(row: sqlite3.Row) -> DeviceEntry:
    umap = {int(k): str(v) for k, v in json.loads(row["user_map"]).items()}
    return DeviceEntry(
        id=row["id"],
        profile=row["profile"],
        address=row["address"],
        resident_id=row["resident_id"],
        user_map=MappingProxyType(umap),
        added_at=datetime.fromisoformat(row["added_at"]),
    )


class Registry:
    """Residents and devices in ``registry.db``. Safe to share between threads (one lock)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10.0)
        except (OSError, sqlite3.Error) as e:
            raise RegistryError(
                f"cannot open the registry {self.path}: {e}",
                hint="check that the state folder exists and is writable (--state-dir)",
            ) from None
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._dirty = True
        self._seen_version: int | None = None
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as e:
            self._db.close()
            raise RegistryError(
                f"the registry {self.path} is not usable: {e}",
                hint="restore registry.db from a backup, or move it away and re-import the residents",
            ) from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            self._dirty = True

    # ---- change tracking

    def _data_version(self) -> int:
        return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def changed(self) -> bool:
        """True when the tables changed (in this or another process) since the last snapshot."""
        with self._lock:
            return self._dirty or self._data_version() != self._seen_version

    def snapshot(self) -> RegistrySnapshot:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._seen_version = self._data_version()
                self._dirty = False
                residents = [_resident_from(r) for r in self._db.execute("SELECT * FROM residents")]
                devices = [_device_from(r) for r in self._db.execute("SELECT * FROM devices")]
            finally:
                self._db.execute("COMMIT")
        return RegistrySnapshot.of(residents, devices)

    # ---- residents

    def get_resident(self, resident_id: str) -> ResidentEntry | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM residents WHERE id = ?", (resident_id,)).fetchone()
        return None if row is None else _resident_from(row)

    def require_resident(self, resident_id: str) -> ResidentEntry:
        r = self.get_resident(resident_id)
        if r is None:
            raise UnknownEntryError(
                f"no resident {resident_id!r} in the registry", hint="see `hutgw residents list`"
            )
        return r

    def list_residents(self) -> list[ResidentEntry]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM residents ORDER BY id").fetchall()
        return [_resident_from(r) for r in rows]

    def _card_owner(self, db: sqlite3.Connection, card: str | None) -> str | None:
        if card is None:
            return None
        row = db.execute("SELECT id FROM residents WHERE card_number = ?", (card,)).fetchone()
        return None if row is None else str(row["id"])

    def add_resident(self, resident: ResidentEntry) -> ResidentEntry:
        r = validate_resident(**_resident_fields(resident))
        with self._tx() as db:
            if db.execute("SELECT 1 FROM residents WHERE id = ?", (r.id,)).fetchone():
                raise DuplicateError(
                    f"resident {r.id} is already registered", hint="use `hutgw residents update` to change it"
                )
            owner = self._card_owner(db, r.card_number)
            if owner is not None:
                raise DuplicateError(
                    f"card number already used by resident {owner}", hint="check the card number"
                )
            now = _now()
            db.execute("INSERT INTO residents VALUES (?,?,?,?,?,?,?,?,?,?)", (*_resident_row(r), now, now))
        return r

    def update_resident(self, resident_id: str, **changes: Any) -> ResidentEntry:
        """Change some fields of a resident (``name=..., height_cm=...``); returns the new entry."""
        unknown = set(changes) - set(ResidentEntry.__slots__) - {"id"}
        if unknown or "id" in changes:
            bad = sorted(unknown | ({"id"} & set(changes)))
            raise InvalidEntryError(
                f"resident {resident_id} not changed", {k: "cannot be changed" for k in bad}
            )
        with self._tx() as db:
            row = db.execute("SELECT * FROM residents WHERE id = ?", (resident_id,)).fetchone()
            if row is None:
                raise UnknownEntryError(
                    f"no resident {resident_id!r} in the registry", hint="see `hutgw residents list`"
                )
            r = validate_resident(**_resident_fields(replace(_resident_from(row), **changes)))
            owner = self._card_owner(db, r.card_number)
            if owner not in (None, r.id):
                raise DuplicateError(
                    f"card number already used by resident {owner}", hint="check the card number"
                )
            db.execute(
                "UPDATE residents SET name=?, sex=?, birth_year=?, height_cm=?, guardians=?, consent=?, "
                "card_number=?, updated_at=? WHERE id=?",
                (*_resident_row(r)[1:], _now(), r.id),
            )
        return r

    def remove_resident(self, resident_id: str) -> None:
        with self._tx() as db:
            if db.execute("SELECT 1 FROM residents WHERE id = ?", (resident_id,)).fetchone() is None:
                raise UnknownEntryError(
                    f"no resident {resident_id!r} in the registry", hint="see `hutgw residents list`"
                )
            users = [
                str(row["id"])
                for row in db.execute("SELECT id, resident_id, user_map FROM devices")
                if row["resident_id"] == resident_id or resident_id in json.loads(row["user_map"]).values()
            ]
            if users:
                raise InUseError(
                    f"resident {resident_id} still has device(s) {', '.join(users)}",
                    hint="unbind or remove those devices first",
                )
            db.execute("DELETE FROM residents WHERE id = ?", (resident_id,))

    def import_residents_csv(
        self, path: Path | str, skip_bad: bool = False, *, update: bool = False
    ) -> ImportReport:
        """Import residents from a CSV file (UTF-8, BOM optional).

        Every bad row is reported with its line number; with any bad row nothing is imported
        (:class:`CsvImportError` carries the report) unless ``skip_bad``. Ids already in the
        registry are bad rows unless ``update`` (then they are replaced).
        """
        p = Path(path)
        try:
            raw = p.read_bytes()
        except OSError as e:
            raise CsvImportError(f"cannot read {p}: {e.strerror}", hint="check the file name") from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise CsvImportError(
                f"{p}: not UTF-8 (byte {e.start})",
                hint="save it as 'CSV UTF-8' (Excel and WPS save GBK by default)",
            ) from None
        with self._tx() as db:
            existing = {str(r["id"]): _resident_from(r) for r in db.execute("SELECT * FROM residents")}
            good, bad, ignored = parse_residents_csv(text, existing=existing, update=update)
            report = ImportReport(
                rows=len(good) + len(bad),
                imported=0,
                bad=tuple(bad),
                ignored_columns=ignored,
            )
            if bad and not skip_bad:
                raise CsvImportError(
                    f"{p}: {len(bad)} bad row(s), nothing imported",
                    report,
                    hint="fix the listed rows, or use --skip-bad to import the good ones",
                )
            now = _now()
            updated = 0
            for _line, r in good:
                if r.id in existing:
                    updated += 1
                    db.execute("DELETE FROM residents WHERE id = ?", (r.id,))
                db.execute(
                    "INSERT INTO residents VALUES (?,?,?,?,?,?,?,?,?,?)", (*_resident_row(r), now, now)
                )
        return replace(report, imported=len(good) - updated, updated=updated)

    # ---- devices

    def get_device(self, device_id: str) -> DeviceEntry | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM devices WHERE id = ?", (device_id,)).fetchone()
        return None if row is None else _device_from(row)

    def list_devices(self) -> list[DeviceEntry]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM devices ORDER BY id").fetchall()
        return [_device_from(r) for r in rows]

    def _check_device(self, db: sqlite3.Connection, d: DeviceEntry) -> None:
        errors: dict[str, str] = {}
        for key, rid in [
            ("resident_id", d.resident_id),
            *((f"user_map.{k}", v) for k, v in d.user_map.items()),
        ]:
            if (
                rid is not None
                and db.execute("SELECT 1 FROM residents WHERE id = ?", (rid,)).fetchone() is None
            ):
                errors[key] = f"no resident {rid!r} in the registry"
        if errors:
            raise InvalidEntryError(f"device {d.id} refused", errors, hint="add the resident(s) first")
        if d.address:
            row = db.execute(
                "SELECT id FROM devices WHERE address = ? AND id != ?", (d.address, d.id)
            ).fetchone()
            if row is not None:
                raise DuplicateError(
                    f"address {d.address} already belongs to device {row['id']}", hint=SEE_DEVICES
                )

    def _write_device(self, db: sqlite3.Connection, d: DeviceEntry) -> DeviceEntry:
        added = d.added_at or datetime.now(UTC)
        db.execute(
            "INSERT OR REPLACE INTO devices VALUES (?,?,?,?,?,?)",
            (
                d.id,
                d.profile,
                d.address,
                d.resident_id,
                json.dumps({str(k): v for k, v in d.user_map.items()}),
                added.isoformat(),
            ),
        )
        return replace(d, added_at=added)

    def add_device(self, device: DeviceEntry) -> DeviceEntry:
        d = validate_device(**_device_fields(device))
        with self._tx() as db:
            if db.execute("SELECT 1 FROM devices WHERE id = ?", (d.id,)).fetchone():
                raise DuplicateError(f"device {d.id} is already registered", hint=SEE_DEVICES)
            self._check_device(db, d)
            return self._write_device(db, d)

    def update_device(self, device_id: str, **changes: Any) -> DeviceEntry:
        with self._tx() as db:
            row = db.execute("SELECT * FROM devices WHERE id = ?", (device_id,)).fetchone()
            if row is None:
                raise UnknownEntryError(f"no device {device_id!r} in the registry", hint=SEE_DEVICES)
            if "id" in changes or "added_at" in changes:
                raise InvalidEntryError(f"device {device_id} not changed", {"id": "cannot be changed"})
            d = validate_device(**_device_fields(replace(_device_from(row), **changes)))
            self._check_device(db, d)
            return self._write_device(db, d)

    def remove_device(self, device_id: str) -> None:
        with self._tx() as db:
            if db.execute("DELETE FROM devices WHERE id = ?", (device_id,)).rowcount == 0:
                raise UnknownEntryError(f"no device {device_id!r} in the registry", hint=SEE_DEVICES)


def _resident_fields(r: ResidentEntry) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "sex": r.sex,
        "birth_year": r.birth_year,
        "height_cm": r.height_cm,
        "guardians": r.guardians,
        "consent": r.consent,
        "card_number": r.card_number,
    }


def _device_fields(d: DeviceEntry) -> dict[str, Any]:
    return {
        "id": d.id,
        "profile": d.profile,
        "address": d.address,
        "resident_id": d.resident_id,
        "user_map": d.user_map,
        "added_at": d.added_at,
    }


def registry_path(state_dir: Path) -> Path:
    return Path(state_dir) / "registry.db"


class RegistryView:
    """The registry as of now, for everyone who reads it (core, pipeline, alerts, escalation):
    one snapshot, reloaded when a technician changed the registry (no restart).

    Built by the daemon before the things that read it, so none of them needs a lambda that
    captures the core. ``generation`` counts reloads (0 for the first snapshot), so a reader that
    keeps derived state (the fence monitor's zones) can tell when to refresh it.
    """

    def __init__(self, registry: Registry, logger: logging.Logger | None = None) -> None:
        self.registry = registry
        self.generation = 0
        self._log = logger or logging.getLogger("hutgw.core")
        self._snapshot = registry.snapshot()

    def snapshot(self) -> RegistrySnapshot:
        if self.registry.changed():
            self._snapshot = self.registry.snapshot()
            self.generation += 1
            self._log.info(
                "registry reloaded: %d residents, %d devices",
                len(self._snapshot.residents),
                len(self._snapshot.devices),
            )
        return self._snapshot

    def __call__(self) -> RegistrySnapshot:
        return self.snapshot()

    def resident(self, resident_id: str | None) -> ResidentEntry | None:
        return self.snapshot().resident(resident_id)

    def guardians(self, resident_id: str) -> tuple[str, ...]:
        return self.snapshot().guardians(resident_id)
