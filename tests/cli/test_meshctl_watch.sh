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

# TLS: a server that requires a client certificate from our CA (openssl
# makes the certificates, python3's ssl module serves).
if command -v openssl >/dev/null; then
  t="$TMP/tls"
  mkdir "$t"
  (
    cd "$t"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem \
      -days 1 -subj /CN=meshlib-test-ca
    openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr \
      -subj /CN=127.0.0.1
    printf 'subjectAltName=IP:127.0.0.1\n' >srv.ext
    openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
      -out srv.pem -days 1 -extfile srv.ext
    openssl req -newkey rsa:2048 -nodes -keyout cli.key -out cli.csr \
      -subj /CN=client
    openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
      -out cli.pem -days 1
  ) >"$TMP/openssl.log" 2>&1 || fail "openssl could not make certificates"
  python3 - "$t" "$TMP/www" >"$TMP/https.out" 2>&1 <<'PY' &
import functools, http.server, ssl, sys
t, www = sys.argv[1], sys.argv[2]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(t + "/srv.pem", t + "/srv.key")
ctx.verify_mode = ssl.CERT_REQUIRED
ctx.load_verify_locations(t + "/ca.pem")
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=www)
s = http.server.HTTPServer(("127.0.0.1", 0), h)
s.socket = ctx.wrap_socket(s.socket, server_side=True)
print("port", s.server_address[1], flush=True)
s.serve_forever()
PY
  MOCK_PIDS+=($!)
  tport=
  for _ in $(seq 100); do
    tport=$(sed -n 's/^port \([0-9]*\)$/\1/p' "$TMP/https.out")
    [ -n "$tport" ] && break
    sleep 0.05
  done
  if [ -z "$tport" ]; then
    fail "the https server did not start"
    cat "$TMP/https.out" >&2
  else
    turl="https://127.0.0.1:$tport/mesh.yaml"
    run 0 watch --url "$turl" --cacert "$t/ca.pem" --cert "$t/cli.pem" \
      --key "$t/cli.key" --count 1 --timeout 10s
    out_has 'accepted 1 \(was 0\)' "https with CA and client certificate"
    # Without the client certificate the server refuses the handshake;
    # without our CA the client refuses the server: no config, and the
    # reason on stderr.
    run 0 watch --url "$turl" --cacert "$t/ca.pem" --timeout 1s || true
    grep -q 'mesh.yaml: .*(failure 1; next try in' "$TMP/err" || {
      fail "no client certificate: the failure is reported"
      sed 's/^/  stderr: /' "$TMP/err" >&2
    }
    run 0 watch --url "$turl" --timeout 1s || true
    grep -qi 'certificate' "$TMP/err" || {
      fail "unknown CA: the failure is reported"
      sed 's/^/  stderr: /' "$TMP/err" >&2
    }
  fi
fi

run 2 watch
run 2 watch --url ftp://x/ || true
run 2 watch -f "$TMP/cfg" --interval soon || true
# Numbers that do not convert to milliseconds are refused, not cast.
for d in nan inf 1e300 -1s; do
  run 2 watch -f "$TMP/cfg" --interval "$d" || true
  grep -q "bad duration \"$d\"" "$TMP/err" || fail "--interval $d refused"
done
run 2 watch -f "$TMP/cfg" --key "$TMP/k.pem" || true
grep -q -- '--cert and --key go together' "$TMP/err" || fail "--key alone"
run 0 watch --help
out_has '^Usage: meshctl watch'

finish "meshctl watch"
