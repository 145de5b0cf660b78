#!/bin/bash
# sluiced --check: every shipped policy validates (exit 0); a broken one is
# refused (exit 1) with file:line:column for each problem, all in one run.
# Usage: policy_check.sh SOURCE_ROOT SLUICED
set -uo pipefail
ROOT=$1
SLUICED=$2
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

for f in "$ROOT"/configs/*.toml; do
    if ! out=$("$SLUICED" --check --policy "$f" 2>&1); then
        echo "FAIL: $f does not validate: $out"
        exit 1
    fi
    grep -q "valid" <<<"$out" || { echo "FAIL: no verdict for $f: $out"; exit 1; }
done

cat >"$WORK/broken.toml" <<'TOML'
version = 1
[upload]
rate = "10mbit"
colour = "blue"
[download]
rate = "20mbot"
TOML
out=$("$SLUICED" --check --policy "$WORK/broken.toml" 2>&1)
rc=$?
[ "$rc" -eq 1 ] || { echo "FAIL: a broken policy exits $rc, not 1: $out"; exit 1; }
grep -q "broken.toml:4:1: error: unknown key \"colour\"" <<<"$out" || { echo "FAIL: no unknown-key error at 4:1: $out"; exit 1; }
grep -q "broken.toml:6:.*: error: .*unknown rate unit \"mbot\"" <<<"$out" || { echo "FAIL: no unit error on line 6: $out"; exit 1; }

out=$("$SLUICED" --check 2>&1)
[ $? -eq 2 ] && grep -q "needs --policy" <<<"$out" || { echo "FAIL: --check without --policy: $out"; exit 1; }
echo PASS
