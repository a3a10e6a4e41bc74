"""``hutgw residents``: add, import, list, update and remove residents in the registry.

The registry is ``<state_dir>/registry.db``; a running daemon picks changes up without restart.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gateway.registry import (
    CsvImportError,
    ImportReport,
    Registry,
    ResidentEntry,
    registry_path,
    validate_resident,
)
from provisioning import i18n
from provisioning.context import load_context, open_registry_file
from provisioning.errors import EXIT_INPUT, EXIT_OK, BadInputError, NotFoundError
from provisioning.output import aligned


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    p = sub.add_parser("residents", help="residents of the village (county health-record numbers)")
    rsub = p.add_subparsers(dest="residents_command", metavar="ACTION")
    rsub.required = True

    add = rsub.add_parser("add", parents=[common], help="register one resident")
    add.add_argument("resident_id", metavar="ID", help="county health-record number (never the national ID)")
    _resident_options(add, required=True)
    add.set_defaults(func=run_add)

    upd = rsub.add_parser("update", parents=[common], help="change some fields of a resident")
    upd.add_argument("resident_id", metavar="ID")
    _resident_options(upd, required=False)
    upd.set_defaults(func=run_update)

    imp = rsub.add_parser(
        "import",
        parents=[common],
        help="import residents from CSV: resident_id,name,sex,birth_year,height_cm "
        "[,guardian_phone,card_number,consent]",
    )
    imp.add_argument("file", metavar="FILE.csv", type=Path)
    imp.add_argument("--skip-bad", action="store_true", help="import the good rows even when some are bad")
    imp.add_argument("--update", action="store_true", help="replace residents already registered")
    imp.set_defaults(func=run_import)

    ls = rsub.add_parser("list", parents=[common], help="list registered residents")
    ls.set_defaults(func=run_list)

    rm = rsub.add_parser("remove", parents=[common], help="remove a resident (their devices first)")
    rm.add_argument("resident_id", metavar="ID")
    rm.set_defaults(func=run_remove)


def _resident_options(p: argparse.ArgumentParser, *, required: bool) -> None:
    p.add_argument("--name", required=required, help="display name")
    p.add_argument("--sex", default=None, help="male, female, other, unknown (男/女)")
    p.add_argument("--birth-year", type=str, default=None, help="e.g. 1950")
    p.add_argument("--height-cm", type=str, default=None, help="height for BMI, e.g. 158")
    p.add_argument(
        "--guardian",
        action="append",
        default=None,
        metavar="PHONE|ID",
        help="guardian or volunteer to notify (repeatable)",
    )
    p.add_argument("--card", default=None, help="health card / NFC tag number for kiosk sign-in")
    consent = p.add_mutually_exclusive_group()
    consent.add_argument(
        "--consent",
        dest="consent",
        action="store_const",
        const=True,
        default=None,
        help="the resident agreed that readings are sent to the county",
    )
    consent.add_argument(
        "--no-consent",
        dest="consent",
        action="store_const",
        const=False,
        help="the resident did not agree: readings stay in the hut",
    )


def resident_json(r: ResidentEntry) -> dict[str, Any]:
    return {
        "resident_id": r.id,
        "name": r.name,
        "sex": r.sex,
        "birth_year": r.birth_year,
        "height_cm": r.height_cm,
        "guardians": list(r.guardians),
        "consent": r.consent,
        "card_number": r.card_number,
    }


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False))


def open_registry(args: argparse.Namespace, *, create: bool) -> Registry:
    ctx = load_context(args)
    path = registry_path(ctx.state_dir)
    if not create and not path.exists():
        raise NotFoundError(
            f"no registry at {path}",
            hint="check --state-dir; `hutgw residents add` or `hutgw residents import` creates it",
        )
    return open_registry_file(path)


def run_add(args: argparse.Namespace) -> int:
    entry = validate_resident(
        id=args.resident_id,
        name=args.name,
        sex=args.sex or "unknown",
        birth_year=args.birth_year,
        height_cm=args.height_cm,
        guardians=args.guardian or (),
        consent=True if args.consent is None else args.consent,
        card_number=args.card,
    )
    with open_registry(args, create=True) as reg:
        r = reg.add_resident(entry)
    if args.json:
        _print_json({"added": resident_json(r)})
    else:
        print(i18n.t("residents.added", id=r.id, name=r.name))
    return EXIT_OK


def run_update(args: argparse.Namespace) -> int:
    changes: dict[str, Any] = {}
    if args.name is not None:
        changes["name"] = args.name
    if args.sex is not None:
        changes["sex"] = args.sex
    if args.birth_year is not None:
        changes["birth_year"] = args.birth_year
    if args.height_cm is not None:
        changes["height_cm"] = args.height_cm
    if args.guardian is not None:
        changes["guardians"] = tuple(args.guardian)
    if args.card is not None:
        changes["card_number"] = args.card or None
    if args.consent is not None:
        changes["consent"] = args.consent
    with open_registry(args, create=False) as reg:
        r = reg.update_resident(args.resident_id, **changes)
    if args.json:
        _print_json({"updated": resident_json(r)})
    else:
        print(i18n.t("residents.updated", id=r.id))
    return EXIT_OK


def _check_encoding(path: Path) -> None:
    """A CSV saved by Excel or WPS in their default encoding (GBK) is refused with how to save it
    as UTF-8, rather than "not UTF-8 (byte N)"."""
    try:
        raw = path.read_bytes()
    except OSError:
        return  # the registry says it cannot read it
    try:
        raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        try:
            text = raw.decode("gb18030")
        except UnicodeDecodeError:
            return
        if any("\u4e00" <= ch <= "\u9fff" for ch in text):
            raise BadInputError(
                i18n.t("residents.csv_gbk", path=path, byte=e.start),
                hint=i18n.t("residents.csv_gbk_hint", path=path),
            ) from None


def run_import(args: argparse.Namespace) -> int:
    _check_encoding(args.file)
    with open_registry(args, create=True) as reg:
        try:
            report = reg.import_residents_csv(args.file, skip_bad=args.skip_bad, update=args.update)
        except CsvImportError as e:
            if e.report is None:
                raise
            if args.json:
                _print_json({"imported": 0, "bad": _bad_rows(e.report), "error": e.message})
            else:
                for b in e.report.bad:
                    print(i18n.localize_bad_row(b.line, b.resident_id, b.errors), file=sys.stderr)
                print(i18n.frame_error(*i18n.localize_error(e)), file=sys.stderr)
            return EXIT_INPUT
    bad = _bad_rows(report)
    if args.json:
        _print_json(
            {
                "rows": report.rows,
                "imported": report.imported,
                "updated": report.updated,
                "skipped": report.skipped,
                "bad": bad,
                "ignored_columns": list(report.ignored_columns),
            }
        )
    else:
        for b in report.bad:
            row = i18n.localize_bad_row(b.line, b.resident_id, b.errors)
            print(i18n.t("residents.skipped_row", row=row), file=sys.stderr)
        text = i18n.t("residents.imported", n=report.imported)
        if report.updated:
            text += i18n.t("residents.imported_updated", n=report.updated)
        if report.skipped:
            text += i18n.t("residents.imported_skipped", n=report.skipped)
        if report.ignored_columns:
            text += i18n.t("residents.ignored_columns", columns=", ".join(report.ignored_columns))
        print(text)
    return EXIT_OK


def _bad_rows(report: ImportReport) -> list[dict[str, Any]]:
    return [{"line": b.line, "resident_id": b.resident_id, "errors": dict(b.errors)} for b in report.bad]


def run_list(args: argparse.Namespace) -> int:
    with open_registry(args, create=False) as reg:
        residents = reg.list_residents()
    if args.json:
        _print_json([resident_json(r) for r in residents])
        return EXIT_OK
    if not residents:
        print(i18n.t("residents.none"))
        return EXIT_OK
    headers = [
        i18n.t(f"residents.col.{c}") for c in ("id", "name", "sex", "born", "height", "card", "guardians")
    ]
    rows = []
    for r in residents:
        guardians = ", ".join(r.guardians) or "-"
        rows.append(
            [
                r.id,
                r.name,
                i18n.t(f"residents.sex.{r.sex}"),
                str(r.birth_year or "-"),
                f"{r.height_cm:g}" if r.height_cm is not None else "-",
                r.card_number or "-",
                guardians if r.consent else f"{guardians}  {i18n.t('residents.no_consent')}",
            ]
        )
    for line in aligned(headers, rows, right=frozenset({4})):
        print(line)
    return EXIT_OK


def run_remove(args: argparse.Namespace) -> int:
    with open_registry(args, create=False) as reg:
        reg.remove_resident(args.resident_id)
    if args.json:
        _print_json({"removed": args.resident_id})
    else:
        print(i18n.t("residents.removed", id=args.resident_id))
    return EXIT_OK
