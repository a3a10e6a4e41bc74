#!/usr/bin/env bash
# Install hut-gateway as a systemd service on Raspberry Pi OS / Debian (run as root, from a checkout):
#
#   sudo ./scripts/install.sh            # or: make install
#
# What it does (docs/deployment.md explains each step):
#   1. creates the system user `hutgw` (groups dialout, bluetooth) from systemd/hutgw.sysusers
#   2. creates a venv under /opt/hutgw/venv and pip-installs this project into it
#   3. installs systemd/hutgw.service, the udev rules systemd/*.rules and the module list
#      systemd/hutgw.modules-load.conf; links /usr/local/bin/hutgw
#   4. writes /etc/hutgw/hutgw.toml from scripts/hutgw.default.toml if there is none yet
#   5. enables and (re)starts hutgw.service when systemd is running
# Running it again upgrades in place; it never overwrites the configuration or touches the data.
# scripts/uninstall.sh reverses it and keeps /etc/hutgw and /var/lib/hutgw.
#
# Options:
#   --dry-run          print every command that would change the system; change nothing
#   --root DIR         install into DIR instead of / (a staging tree or a test): the unit is
#                      enabled offline (systemctl --root) and nothing is started
#   --skip-venv        do not create or update the venv (only meaningful with --root)
#   --source PATH      what pip installs (default: this checkout; a wheel file works too)
#   --pip-args ARGS    extra arguments for `pip install` (e.g. "--no-deps" for an offline wheel)
#   --gateway-id ID    gateway_id for a new config file (default: the host name)
#   --no-start         enable the service but do not (re)start it
# Environment: PYTHON (default python3); HUTGW_ASSUME_SYSTEMD=yes|no overrides the check for a
# running systemd (for --dry-run previews).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-python3}
ROOT=""
DRY_RUN=0
SKIP_VENV=0
NO_START=0
SOURCE="$REPO"
PIP_ARGS=""
GATEWAY_ID=""

PREFIX=/opt/hutgw
VENV=$PREFIX/venv
MANIFEST=$PREFIX/installed-files
CONF_DIR=/etc/hutgw
STATE_DIR=/var/lib/hutgw
UNIT=/etc/systemd/system/hutgw.service
SYSUSERS=/etc/sysusers.d/hutgw.conf
MODULES=/etc/modules-load.d/hutgw.conf
UDEV_DIR=/etc/udev/rules.d
BIN_LINK=/usr/local/bin/hutgw
DOCS_DIR=$PREFIX/docs
USER_NAME=hutgw

die() { echo "install.sh: error: $*" >&2; exit 1; }
say() { echo "install.sh: $*"; }

while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY_RUN=1 ;;
        --root) [ $# -ge 2 ] || die "--root needs a directory"; ROOT=$(realpath -m "$2"); shift ;;
        --skip-venv) SKIP_VENV=1 ;;
        --source) [ $# -ge 2 ] || die "--source needs a path"; SOURCE=$(realpath -m "$2"); shift ;;
        --pip-args) [ $# -ge 2 ] || die "--pip-args needs a value"; PIP_ARGS=$2; shift ;;
        --gateway-id) [ $# -ge 2 ] || die "--gateway-id needs a value"; GATEWAY_ID=$2; shift ;;
        --no-start) NO_START=1 ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
    shift
done

[ "$ROOT" = "/" ] && ROOT=""
if [ -z "$ROOT" ] && [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then
    die "run as root: sudo $0 $*"
fi
[ "$SKIP_VENV" = 1 ] && [ -z "$ROOT" ] && [ "$DRY_RUN" = 0 ] && die "--skip-venv is only for --root installs"

# run CMD...: execute, or print it under --dry-run.
run() {
    if [ "$DRY_RUN" = 1 ]; then
        printf '+'; printf ' %q' "$@"; printf '\n'
    else
        "$@"
    fi
}

INSTALLED=()
# put SRC DEST MODE: install one file (DEST without the root prefix) and remember it.
put() {
    run install -D -m "$3" "$1" "$ROOT$2"
    INSTALLED+=("$2")
}

systemd_running() {
    case "${HUTGW_ASSUME_SYSTEMD:-auto}" in
        yes) return 0 ;;
        no) return 1 ;;
    esac
    [ -d /run/systemd/system ]
}

# --- 0. prerequisites -------------------------------------------------------------------------
if [ "$SKIP_VENV" = 0 ]; then
    command -v "$PYTHON" >/dev/null || die "$PYTHON not found; install it: apt-get install -y python3"
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
        die "Python >= 3.11 is needed ($("$PYTHON" --version 2>&1)); Raspberry Pi OS / Debian 12 (bookworm) have it"
    if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
        command -v apt-get >/dev/null || die "the Python venv module is missing; install python3-venv"
        say "installing python3-venv"
        run apt-get install -y python3-venv
    fi
fi

# --- 1. the service user ----------------------------------------------------------------------
say "creating the system user $USER_NAME (groups dialout, bluetooth)"
if command -v systemd-sysusers >/dev/null; then
    if [ "$DRY_RUN" = 1 ]; then
        run systemd-sysusers ${ROOT:+--root="$ROOT"} - "<" "$REPO/systemd/hutgw.sysusers"
    else
        systemd-sysusers ${ROOT:+--root="$ROOT"} - < "$REPO/systemd/hutgw.sysusers"
    fi
else
    [ -z "$ROOT" ] || die "--root needs systemd-sysusers (apt-get install -y systemd)"
    getent group dialout >/dev/null || run groupadd --system dialout
    getent group bluetooth >/dev/null || run groupadd --system bluetooth
    getent passwd "$USER_NAME" >/dev/null ||
        run useradd --system --user-group --home-dir "$STATE_DIR" --no-create-home \
            --shell /usr/sbin/nologin --comment "hut-gateway daemon" "$USER_NAME"
    run usermod -a -G dialout,bluetooth "$USER_NAME"
fi
put "$REPO/systemd/hutgw.sysusers" "$SYSUSERS" 0644

# Numeric ids from the target's own passwd (the user may exist only there under --root).
HUT_UID=$(awk -F: -v u="$USER_NAME" '$1 == u { print $3 }' "$ROOT/etc/passwd" 2>/dev/null || true)
HUT_GID=$(awk -F: -v u="$USER_NAME" '$1 == u { print $4 }' "$ROOT/etc/passwd" 2>/dev/null || true)
HUT_UID=${HUT_UID:-$USER_NAME}
HUT_GID=${HUT_GID:-$USER_NAME}
OWNER=()
if [ "$(id -u)" = 0 ]; then OWNER=(-o "$HUT_UID" -g "$HUT_GID"); fi
CONF_OWNER=()
if [ "$(id -u)" = 0 ]; then CONF_OWNER=(-o 0 -g "$HUT_GID"); fi

# --- 2. directories and the venv --------------------------------------------------------------
run install -d -m 0755 "$ROOT$PREFIX"
run install -d -m 0750 "${CONF_OWNER[@]}" "$ROOT$CONF_DIR"
run install -d -m 0700 "${OWNER[@]}" "$ROOT$STATE_DIR"

if [ "$SKIP_VENV" = 0 ]; then
    if [ ! -x "$ROOT$VENV/bin/python" ]; then
        say "creating the venv $VENV"
        run "$PYTHON" -m venv "$ROOT$VENV"
    fi
    say "installing hut-gateway from $SOURCE into $VENV (this takes a few minutes on a Pi)"
    # shellcheck disable=SC2086  # PIP_ARGS is a list of words on purpose
    run "$ROOT$VENV/bin/pip" install --disable-pip-version-check --no-cache-dir --upgrade $PIP_ARGS "$SOURCE"
fi
put "$REPO/docs/deployment.md" "$DOCS_DIR/deployment.md" 0644

# --- 3. unit, udev rules, modules, command link -----------------------------------------------
put "$REPO/systemd/hutgw.service" "$UNIT" 0644
put "$REPO/systemd/hutgw.modules-load.conf" "$MODULES" 0644
shopt -s nullglob
for rules in "$REPO"/systemd/*.rules; do
    put "$rules" "$UDEV_DIR/$(basename "$rules")" 0644
done
shopt -u nullglob
run install -d -m 0755 "$ROOT$(dirname "$BIN_LINK")"
run ln -sfn "$VENV/bin/hutgw" "$ROOT$BIN_LINK"
INSTALLED+=("$BIN_LINK")

# --- 4. default configuration (never overwritten) ---------------------------------------------
if [ -e "$ROOT$CONF_DIR/hutgw.toml" ]; then
    say "keeping the existing $CONF_DIR/hutgw.toml"
else
    if [ -z "$GATEWAY_ID" ]; then
        host=$(cat "$ROOT/etc/hostname" 2>/dev/null || hostname 2>/dev/null || echo hut-unnamed)
        GATEWAY_ID=$(printf '%s' "$host" | head -n1 | tr -c 'A-Za-z0-9_.-' '-' | cut -c1-64)
        GATEWAY_ID=${GATEWAY_ID:-hut-unnamed}
    fi
    case "$GATEWAY_ID" in
        *[!A-Za-z0-9_.-]*) die "--gateway-id may use only letters, digits, '_', '.' and '-'" ;;
    esac
    say "writing $CONF_DIR/hutgw.toml (gateway_id = $GATEWAY_ID); edit it, then restart hutgw"
    tmp=$(mktemp)
    trap 'rm -f "$tmp"' EXIT
    sed "s/@GATEWAY_ID@/$GATEWAY_ID/" "$REPO/scripts/hutgw.default.toml" > "$tmp"
    run install -m 0640 "${CONF_OWNER[@]}" "$tmp" "$ROOT$CONF_DIR/hutgw.toml"
fi

# --- the manifest uninstall.sh reads ----------------------------------------------------------
if [ "$DRY_RUN" = 1 ]; then
    echo "+ write $ROOT$MANIFEST:" "${INSTALLED[@]}"
else
    printf '%s\n' "${INSTALLED[@]}" > "$ROOT$MANIFEST"
fi

# --- 5. enable and start ----------------------------------------------------------------------
if [ -n "$ROOT" ]; then
    if command -v systemctl >/dev/null; then
        run systemctl --root="$ROOT" --quiet enable hutgw.service
    fi
    say "installed into $ROOT; hutgw.service is enabled there and starts at its next boot"
elif systemd_running; then
    run modprobe -q -a usbserial cdc_acm || say "note: could not load usbserial/cdc_acm now; they load at boot"
    if command -v udevadm >/dev/null; then
        run udevadm control --reload-rules
        run udevadm trigger --subsystem-match=tty --action=add
    fi
    run systemctl daemon-reload
    run systemctl enable hutgw.service
    if [ "$NO_START" = 1 ]; then
        say "enabled; start it with: systemctl start hutgw"
    else
        run systemctl restart hutgw.service
        say "hutgw.service is running: systemctl status hutgw; logs: journalctl -u hutgw -f"
    fi
else
    say "systemd is not running here (a container or chroot): nothing was enabled or started."
    say "on the box itself run: systemctl daemon-reload && systemctl enable --now hutgw"
fi
say "done"
