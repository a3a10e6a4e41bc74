#!/usr/bin/env bash
# Remove hut-gateway installed by scripts/install.sh (run as root):
#
#   sudo ./scripts/uninstall.sh          # or: make uninstall
#
# Stops and disables hutgw.service, removes the unit, the udev rules, the module list, the
# /usr/local/bin/hutgw link and /opt/hutgw (the venv). It KEEPS /etc/hutgw (the configuration,
# keys) and /var/lib/hutgw (the outbox: readings not yet delivered to the county are in there),
# and the `hutgw` user that owns them, so that a later install picks up where this one stopped.
#
# Options:
#   --dry-run       print every command that would change the system; change nothing
#   --root DIR      uninstall from the tree DIR that install.sh --root DIR filled
#   --remove-user   also delete the `hutgw` user and group (not with --root); the kept files
#                   are then owned by a bare number
# Environment: HUTGW_ASSUME_SYSTEMD=yes|no overrides the check for a running systemd.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=""
DRY_RUN=0
REMOVE_USER=0

PREFIX=/opt/hutgw
MANIFEST=$PREFIX/installed-files
USER_NAME=hutgw

die() { echo "uninstall.sh: error: $*" >&2; exit 1; }
say() { echo "uninstall.sh: $*"; }

while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY_RUN=1 ;;
        --root) [ $# -ge 2 ] || die "--root needs a directory"; ROOT=$(realpath -m "$2"); shift ;;
        --remove-user) REMOVE_USER=1 ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
    shift
done

[ "$ROOT" = "/" ] && ROOT=""
if [ -z "$ROOT" ] && [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then
    die "run as root: sudo $0 $*"
fi
if [ "$REMOVE_USER" = 1 ] && [ -n "$ROOT" ]; then
    die "--remove-user works on the running system only"
fi

run() {
    if [ "$DRY_RUN" = 1 ]; then
        printf '+'; printf ' %q' "$@"; printf '\n'
    else
        "$@"
    fi
}

systemd_running() {
    case "${HUTGW_ASSUME_SYSTEMD:-auto}" in
        yes) return 0 ;;
        no) return 1 ;;
    esac
    [ -d /run/systemd/system ]
}

# --- 1. stop and disable ----------------------------------------------------------------------
if [ -n "$ROOT" ]; then
    if command -v systemctl >/dev/null && [ -e "$ROOT/etc/systemd/system/hutgw.service" ]; then
        run systemctl --root="$ROOT" --quiet disable hutgw.service
    fi
elif systemd_running; then
    say "stopping hutgw.service (it flushes the outbox and closes the database first)"
    run systemctl disable --now hutgw.service || say "note: hutgw.service was not enabled or running"
fi

# --- 2. the files install.sh recorded ---------------------------------------------------------
FILES=()
if [ -f "$ROOT$MANIFEST" ]; then
    while IFS= read -r path; do
        [ -n "$path" ] && FILES+=("$path")
    done < "$ROOT$MANIFEST"
else
    say "no $MANIFEST: removing the files this checkout would have installed"
    FILES=(/etc/systemd/system/hutgw.service /etc/sysusers.d/hutgw.conf /etc/modules-load.d/hutgw.conf
        /usr/local/bin/hutgw)
    shopt -s nullglob
    for rules in "$REPO"/systemd/*.rules; do FILES+=("/etc/udev/rules.d/$(basename "$rules")"); done
    shopt -u nullglob
fi
for path in "${FILES[@]}"; do
    case "$path" in
        /etc/hutgw|/etc/hutgw/*|/var/lib/hutgw|/var/lib/hutgw/*) continue ;;  # never: config and data
        /*) ;;
        *) die "refusing a relative path in $MANIFEST: $path" ;;
    esac
    if [ -e "$ROOT$path" ] || [ -L "$ROOT$path" ]; then
        run rm -f "$ROOT$path"
    fi
done
if [ -d "$ROOT/etc/systemd/system/hutgw.service.d" ]; then
    say "keeping your overrides in /etc/systemd/system/hutgw.service.d"
fi
if [ -d "$ROOT$PREFIX" ]; then
    run rm -rf "$ROOT$PREFIX"
fi

# --- 3. tell systemd and udev -----------------------------------------------------------------
if [ -z "$ROOT" ] && systemd_running; then
    run systemctl daemon-reload
    run systemctl reset-failed hutgw.service 2>/dev/null || true
    if command -v udevadm >/dev/null; then
        run udevadm control --reload-rules
    fi
fi

# --- 4. the user (only when asked) ------------------------------------------------------------
if [ "$REMOVE_USER" = 1 ]; then
    if getent passwd "$USER_NAME" >/dev/null; then
        run userdel "$USER_NAME"
    fi
    if getent group "$USER_NAME" >/dev/null; then
        run groupdel "$USER_NAME"
    fi
fi

say "removed hut-gateway; kept /etc/hutgw (configuration) and /var/lib/hutgw (outbox and history)"
if [ -n "$(ls -A "$ROOT/var/lib/hutgw" 2>/dev/null)" ]; then
    say "readings not yet delivered stay in /var/lib/hutgw/ until you install again or delete it"
fi
