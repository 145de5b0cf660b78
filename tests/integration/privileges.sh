#!/bin/bash
# The privilege model of docs/operations.md, met by a real sluiced (net_null
# ports) and real sluicectl run as three kinds of peer: root, a member of the
# socket's group and a user outside it (throwaway users and a group made for
# the test and removed after it). The socket's directory is made the way
# systemd makes it from the shipped unit, and sluiced reports READY=1 to a
# notify socket as Type=notify wants.
#
# Usage: privileges.sh SOURCE_ROOT SLUICED SLUICECTL
# Needs root (useradd, setpriv); exits 77 (skipped) without it.
set -euo pipefail
ROOT=$1
SLUICED=$2
SLUICECTL=$3
PEER="/usr/bin/python3 $ROOT/tests/integration/control_peer.py"

if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: needs root to create throwaway users"
    exit 77
fi

TAG=sl$(( $$ % 100000 ))
GROUP=${TAG}g
MEMBER=${TAG}m
OUTSIDER=${TAG}o
WORK=$(mktemp -d /tmp/sluice-priv.XXXXXX)
chmod 0755 "$WORK"
PIDS=()

cleanup() {
    set +e
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    # Anything still running as a throwaway user was started by this test.
    pkill -KILL -u "$MEMBER" 2>/dev/null
    pkill -KILL -u "$OUTSIDER" 2>/dev/null
    userdel "$MEMBER" 2>/dev/null
    userdel "$OUTSIDER" 2>/dev/null
    groupdel "$GROUP" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*"
    echo "--- sluiced log"
    cat "$WORK/sluiced.log" || true
    exit 1
}

groupadd "$GROUP"
useradd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin -N -g nogroup -G "$GROUP" "$MEMBER"
useradd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin -N -g nogroup "$OUTSIDER"
as() {  # as USER CMD...: run CMD with USER's uid, gid and groups
    local user=$1
    shift
    setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups "$@"
}

# The runtime directory as systemd makes it from the shipped unit (root:root,
# RuntimeDirectoryMode), and the settings the unit leaves at their defaults.
unit=$ROOT/configs/sluiced.service
rundir_name=$(sed -n 's/^RuntimeDirectory=//p' "$unit")
rundir_mode=$(sed -n 's/^RuntimeDirectoryMode=//p' "$unit")
grep -q '^Type=notify$' "$unit" || fail "the unit is not Type=notify"
[ -n "$rundir_name" ] && [ -n "$rundir_mode" ] || fail "the unit has no RuntimeDirectory/RuntimeDirectoryMode"
RUN=$WORK/run/$rundir_name
install -d -m 0755 "$WORK/run"
install -d -m "$rundir_mode" -o root -g root "$RUN"
SOCK=$RUN/sluiced.sock

# The policy directory (root's, as /etc/sluice is) and the running policy.
ETC=$WORK/etc
install -d -m 0755 "$ETC"
install -m 0644 "$ROOT/configs/home.toml" "$ETC/policy.toml"
# A member's own directory, and a secret of root's beside it.
HOME_M=$WORK/home-m
install -d -m 0755 -o "$MEMBER" "$HOME_M"
install -d -m 0700 "$WORK/rootonly"
echo "root's secret" >"$WORK/rootonly/secret"
chmod 0600 "$WORK/rootonly/secret"

/usr/bin/python3 "$ROOT/tests/integration/control_peer.py" notify "$WORK/notify.sock" "$WORK/notify.log" &
PIDS+=($!)
for _ in $(seq 50); do [ -S "$WORK/notify.sock" ] && break; sleep 0.1; done

NOTIFY_SOCKET=$WORK/notify.sock "$SLUICED" --lan net_null0 --wan net_null1 --hugepages off --memory 256 \
    --socket "$SOCK" --socket-group "$GROUP" --policy-dir "$ETC" --policy "$ETC/policy.toml" --metrics 0 \
    -- --file-prefix "$TAG" >"$WORK/sluiced.log" 2>&1 &
SLUICED_PID=$!
PIDS+=($SLUICED_PID)
for _ in $(seq 200); do grep -q "bridging" "$WORK/sluiced.log" && break; kill -0 $SLUICED_PID || break; sleep 0.1; done
grep -q "bridging" "$WORK/sluiced.log" || fail "sluiced did not start"
ctl() { "$SLUICECTL" --socket "$SOCK" "$@"; }

echo "== Type=notify: READY=1 once bridging"
for _ in $(seq 50); do grep -q "READY=1" "$WORK/notify.log" 2>/dev/null && break; sleep 0.1; done
grep -q "READY=1" "$WORK/notify.log" || fail "no READY=1 on the notify socket"

echo "== the unit's directory and socket modes, met by each kind of peer"
[ "$(stat -c %a:%U:%G "$SOCK")" = "660:root:$GROUP" ] || fail "socket is $(stat -c %a:%U:%G "$SOCK")"
as "$MEMBER" "$SLUICECTL" --socket "$SOCK" status >/dev/null || fail "a member cannot use the socket"
rc=0; out=$(as "$OUTSIDER" "$SLUICECTL" --socket "$SOCK" status 2>&1) || rc=$?
[ "$rc" -eq 2 ] && [[ "$out" == *"Permission denied"* ]] || fail "a non-member got rc $rc: $out"
ctl status >/dev/null || fail "root cannot use the socket"

mctl() { as "$MEMBER" "$SLUICECTL" --socket "$SOCK" "$@"; }
expect_refused() {  # expect_refused WHAT PART CMD...: CMD exits 1 and says PART
    local what=$1 part=$2
    shift 2
    local rc=0 out
    out=$("$@" 2>&1) || rc=$?
    [ "$rc" -eq 1 ] || fail "$what: exit $rc, wanted 1: $out"
    [[ "$out" == *"$part"* ]] || fail "$what: '$out' does not say '$part'"
    echo "   refused as it should be: $what"
}

echo "== a member saves only the running file or in the policy directory"
expect_refused "member saves to /tmp" "may save only to the running policy's file" mctl policy save "$WORK/out.toml"
[ ! -e "$WORK/out.toml" ] || fail "a file appeared outside the policy directory"
ln -s "$WORK/rootonly/secret" "$HOME_M/x"
echo "member's own" >"$HOME_M/x.bak"; chown "$MEMBER" "$HOME_M/x.bak"
expect_refused "member saves through a symlink in their own directory" "policy directory" mctl policy save "$HOME_M/x"
# Root may name any path, but never writes through a symlink.
expect_refused "root saves to a symlink" "is a symbolic link" ctl policy save "$HOME_M/x"
[ "$(cat "$WORK/rootonly/secret")" = "root's secret" ] || fail "the secret changed"
[ "$(cat "$HOME_M/x.bak")" = "member's own" ] || fail "the member's x.bak was rewritten"
[ "$(stat -c %U "$HOME_M/x.bak")" = "$MEMBER" ] || fail "x.bak changed owner"
# A planted FILE.tmp.<pid> (the pid is in status) is not a name the save uses.
pid=$(ctl --json status | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
ln -s "$WORK/rootonly/secret" "$ETC/policy.toml.tmp.$pid"
mctl policy save >/dev/null || fail "a member cannot save the running policy to its own file"
[ -f "$ETC/policy.toml.bak" ] || fail "no policy.toml.bak after a save"
[ "$(cat "$WORK/rootonly/secret")" = "root's secret" ] || fail "the secret changed through the planted temporary name"
rm "$ETC/policy.toml.tmp.$pid"
mctl policy save "$ETC/copy.toml" >/dev/null || fail "a member cannot save in the policy directory"
[ -f "$ETC/copy.toml" ] || fail "copy.toml was not written"
ln -s "$WORK/rootonly" "$ETC/out"
expect_refused "member saves through a symlink leading out" "leads out of the policy directory" \
    mctl policy save "$ETC/out/secret"
[ "$(cat "$WORK/rootonly/secret")" = "root's secret" ] || fail "the secret changed"

echo "== a member names no file outside the policy directory; hostile files return at once"
mkfifo "$WORK/fifo"
truncate -s 64M "$WORK/huge.toml"
for f in "$WORK/rootonly/secret" "$WORK/rootonly/nonexistent" /dev/zero "$WORK/fifo"; do
    for cmd in "policy check" "policy load" "policy diff"; do
        out=$(as "$MEMBER" $PEER request "$SOCK" "{\"cmd\":\"$cmd\",\"args\":{\"file\":\"$f\"}}")
        [[ "$out" == *'"ok":false'* && "$out" == *"policy directory"* ]] || fail "member $cmd $f: $out"
        [[ "$out" != *"No such file"* && "$out" != *"secret"*"bytes"* ]] || fail "member learned about $f: $out"
    done
done
for f in /dev/zero "$WORK/fifo" "$WORK/huge.toml"; do
    start=$(date +%s%N)
    out=$($PEER request "$SOCK" "{\"cmd\":\"policy check\",\"args\":{\"file\":\"$f\"}}")
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    [[ "$out" == *'"ok":false'* ]] || fail "root policy check $f: $out"
    [ "$ms" -lt 2000 ] || fail "root policy check $f took $ms ms"
    echo "   root: policy check $f refused in $ms ms: $(echo "$out" | sed 's/.*"error":"\([^"]*\)".*/\1/')"
done
start=$(date +%s%N)
rc=0; out=$(mctl policy load "$WORK/fifo" 2>&1) || rc=$?
[ "$rc" -eq 1 ] && [[ "$out" == *"FIFO"* ]] || fail "sluicectl policy load of a FIFO: rc $rc: $out"
[ $(( ($(date +%s%N) - start) / 1000000 )) -lt 2000 ] || fail "sluicectl blocked on a FIFO"

echo "== a member loads a policy of their own by sending its text"
cp "$ROOT/configs/home.toml" "$HOME_M/mine.toml"; chown "$MEMBER" "$HOME_M/mine.toml"; chmod 0600 "$HOME_M/mine.toml"
out=$(mctl --json policy load "$HOME_M/mine.toml") || fail "member load of their own file: $out"
reload_file=$(echo "$out" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["reload_file"])')
[ "$reload_file" = "$ETC/policy.toml" ] || fail "a text load changed the reload file to $reload_file"
mctl policy reload >/dev/null || fail "a member cannot reload the running file"
grep -q "'policy load' {\"name\":\"$HOME_M/mine.toml\",\"text\":\"<" "$WORK/sluiced.log" ||
    fail "the text load is not audited by its size"

echo "== a request nested 60,000 deep gets an error and the daemon stays up"
out=$(as "$MEMBER" $PEER deep "$SOCK" 60000)
[[ "$out" == *"deeper than"* ]] || fail "deep request: $out"
kill -0 $SLUICED_PID || fail "sluiced died on a deep request"
ctl status >/dev/null || fail "sluiced stopped answering after a deep request"

echo "== a member's slow clients do not lock out root"
setpriv --reuid="$MEMBER" --regid="$(id -g "$MEMBER")" --init-groups $PEER drip "$SOCK" 64 30 >"$WORK/drip.out" &
DRIP=$!
PIDS+=($DRIP)
for _ in $(seq 100); do [ -s "$WORK/drip.out" ] && break; sleep 0.1; done
grep -q "refused 56" "$WORK/drip.out" || fail "64 connections of one member: $(cat "$WORK/drip.out"), wanted 56 refused"
ctl status >/dev/null || fail "root was locked out by a member's slow clients"
rc=0; out=$(mctl status 2>&1) || rc=$?
[ "$rc" -eq 2 ] && [[ "$out" == *"too many control connections"* ]] ||
    fail "sluicectl did not report too many connections: rc $rc: $out"
kill $DRIP; wait $DRIP 2>/dev/null || true
# Their slots come back as soon as the daemon sees them closed.
for _ in $(seq 50); do mctl status >/dev/null 2>&1 && break; sleep 0.1; done
mctl status >/dev/null || fail "the member's slots did not come back after their clients closed"

echo "== log level is root's, and the audit log cannot be silenced"
expect_refused "member log level off" "for root only" mctl log level off
grep -q "'log level' refused to pid [0-9]* uid $(id -u "$MEMBER"): root only" "$WORK/sluiced.log" ||
    fail "the refusal is not logged with the member's uid"
ctl log level off >/dev/null || fail "root cannot set the log level"
mctl set class bulk rate=3mbit direction=upload >/dev/null || fail "a member cannot change a class"
grep -q "'set class' .*uid $(id -u "$MEMBER") (member)" "$WORK/sluiced.log" ||
    fail "a member's change left no audit line after log level off"
ctl log level info >/dev/null

echo "== 20 idle connections to /metrics do not delay a scrape"
port=$(sed -n 's|.*metrics at http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$WORK/sluiced.log" | head -1)
[ -n "$port" ] || fail "no metrics port in the log"
out=$($PEER metrics-idle "$port" 20)
[[ "$out" == ok* ]] || fail "scrape with idle connections: $out"
awk -v t="${out#ok }" 'BEGIN { exit !(t < 1.0) }' || fail "a scrape took ${out#ok } s with 20 idle connections"
echo "   scrape with 20 idle connections: ${out#ok } s"

kill -TERM $SLUICED_PID
rc=0; wait $SLUICED_PID || rc=$?
[ "$rc" -eq 0 ] || fail "sluiced exited $rc"
grep -q "STOPPING=1" "$WORK/notify.log" || fail "no STOPPING=1 on the notify socket"
echo "PASS: root, member and outsider each got what the privilege model grants"
