#!/bin/bash
# The shipped systemd unit and bash completion work as shipped.
# Usage: shipped_files.sh SOURCE_ROOT SLUICED
set -euo pipefail
ROOT=$1
SLUICED=$2
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# The unit, pointed at the binary under test, passes systemd's own checks.
sed "s|^ExecStart=/usr/local/bin/sluiced|ExecStart=$SLUICED|" "$ROOT/configs/sluiced.service" >"$WORK/sluiced.service"
grep -q "^ExecStart=$SLUICED" "$WORK/sluiced.service"
out=$(systemd-analyze verify "$WORK/sluiced.service" 2>&1 | grep sluiced.service || true)
if [ -n "$out" ]; then
    echo "FAIL: systemd-analyze: $out"
    exit 1
fi

# Completion offers commands, then their arguments.
complete_line() {
    bash -c '
        source /usr/share/bash-completion/bash_completion
        source "$1"
        shift
        COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 ))
        COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
        _sluicectl
        echo "${COMPREPLY[*]}"' _ "$ROOT/control/sluicectl/sluicectl.bash" "$@"
}
[ "$(complete_line sluicectl st)" = "status stats" ] || { echo "FAIL: 'st' completes to '$(complete_line sluicectl st)'"; exit 1; }
[ "$(complete_line sluicectl log level e)" = "error" ] || { echo "FAIL: log level completion"; exit 1; }
[ "$(complete_line sluicectl show "")" = "ports classes rules meters" ] || { echo "FAIL: show completion"; exit 1; }
echo "PASS"
