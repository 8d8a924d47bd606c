#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `meshctl watch`: one line per version as files change (in place, by
# rename, a bad edit), and a control endpoint served by a stock web server
# (python3's http.server: Last-Modified / If-Modified-Since, 304).
# Env: see lib.sh.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

vs() { # NAME SUBSET
  cat <<EOF
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: $1, namespace: default}
spec:
  hosts: [svc]
  http:
  - route: [{destination: {host: svc, subset: $2}}]
EOF
}

# wait_lines FILE N: until FILE has N lines (10 s at most).
wait_lines() {
  for _ in $(seq 200); do
    [ "$(wc -l <"$1")" -ge "$2" ] && return 0
    sleep 0.05
  done
  fail "$1 never reached $2 lines"
  sed 's/^/  out: /' "$1" >&2
  return 1
}

# Files.
mkdir "$TMP/cfg"
vs a v1 >"$TMP/cfg/vs.yaml"
"$MESHCTL" watch -f "$TMP/cfg" --count 4 --timeout 20s >"$TMP/w1" 2>"$TMP/w1.err" &
pid=$!
if wait_lines "$TMP/w1" 1; then
  vs a v2 >"$TMP/cfg/vs.yaml"                  # in place
  wait_lines "$TMP/w1" 2 &&
    {
      printf 'apiVersion: networking.istio.io/v1\nkind: VirtualService\n' >"$TMP/cfg/new"
      printf 'metadata: {name: b}\nspec:\n  hosts: [svc]\n  http:\n' >>"$TMP/cfg/new"
      printf '  - retries: {attempts: many}\n    route: [{destination: {host: svc}}]\n' >>"$TMP/cfg/new"
      mv "$TMP/cfg/new" "$TMP/cfg/vs.yaml"      # a bad edit, by rename
    } &&
    wait_lines "$TMP/w1" 3 &&
    { vs c v1 >"$TMP/cfg/vs.yaml.tmp" && mv "$TMP/cfg/vs.yaml.tmp" "$TMP/cfg/vs.yaml"; } &&
    wait_lines "$TMP/w1" 4
fi
rc=0
wait "$pid" || rc=$?
[ "$rc" -eq 0 ] || fail "meshctl watch exited $rc after an accepted version"
cp "$TMP/w1" "$TMP/out"
out_has '^[0-9:.]+ accepted 1 \(was 0\)$' "first load accepted"
out_has '^[0-9:.]+ accepted 2 \(was 1\)$' "in-place edit accepted"
out_has "^[0-9:.]+ rejected 3: $TMP/cfg/vs.yaml:7:25: spec.http\\[0\\].retries.attempts: expected an integer \\(2 stays in force\\)$" \
  "bad edit rejected with file:line:col and field"
out_has '^[0-9:.]+ accepted 4 \(was 2\)$' "fix accepted"

# A bad config at start: reported, and the watch goes on.
printf 'kind: VirtualService\nspec: [\n' >"$TMP/bad.yaml"
run 1 watch -f "$TMP/bad.yaml" --count 1 --timeout 10s
out_has "rejected 1: $TMP/bad.yaml:3:1: " "bad start reported"

# A control endpoint: python3's http.server, which answers
# If-Modified-Since with 304 (whole seconds: wait before each change).
mkdir "$TMP/www"
vs e v1 >"$TMP/www/mesh.yaml"
python3 -m http.server 0 --bind 127.0.0.1 --directory "$TMP/www" >"$TMP/http.out" 2>&1 &
MOCK_PIDS+=($!)
port=
for _ in $(seq 100); do
  port=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$TMP/http.out" | head -1)
  [ -n "$port" ] && break
  sleep 0.05
done
if [ -z "$port" ]; then
  fail "python3 -m http.server did not start"
else
  "$MESHCTL" watch --url "http://127.0.0.1:$port/mesh.yaml" --interval 100ms \
    --count 2 --timeout 20s >"$TMP/w2" 2>"$TMP/w2.err" &
  pid=$!
  if wait_lines "$TMP/w2" 1; then
    sleep 1.2
    vs e v2 >"$TMP/www/mesh.yaml"
    wait_lines "$TMP/w2" 2
  fi
  wait "$pid" || fail "meshctl watch --url exited $?"
  cp "$TMP/w2" "$TMP/out"
  out_has 'accepted 1 \(was 0\)' "endpoint: first load"
  out_has 'accepted 2 \(was 1\)' "endpoint: change"
  grep -q '" 304 ' "$TMP/http.out" || fail "no 304 while unchanged"
fi

run 2 watch
run 2 watch --url ftp://x/ || true
run 2 watch -f "$TMP/cfg" --interval soon || true
run 0 watch --help
out_has '^Usage: meshctl watch'

finish "meshctl watch"
