#!/usr/bin/env bash
# Auth throughput with wrk against a fresh `madbase dev`: token refresh (POST /token
# grant_type=refresh_token, every request rotating a different session's token) and GET /user,
# both at 32 connections, and password sign-in (Argon2id m=19 MiB, t=2, p=1 per attempt).
#
#   bench/auth.sh [seconds]        needs: a built madbase (MADBASE_BIN or target/release), wrk, node
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
secs="${1:-10}"
bin="${MADBASE_BIN:-$root/target/release/madbase}"
[ -x "$bin" ] || { echo "madbase binary not found at $bin (set MADBASE_BIN)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is required" >&2; exit 1; }
work="$(mktemp -d)"
chmod 755 "$work"
port=$((20000 + RANDOM % 20000))
"$bin" dev --data-dir "$work/dev" --port "$port" --log-level warn >"$work/dev.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 150); do
  "$bin" status --data-dir "$work/dev" --output json >"$work/status.json" 2>/dev/null && break
  sleep 0.2
done
url="http://127.0.0.1:$port"
anon="$(node -e "console.log(JSON.parse(require('fs').readFileSync('$work/status.json')).ANON_KEY)")"

# 64 users with one session each: refresh tokens and access tokens for the Lua scripts.
node - "$url" "$anon" "$work" <<'JS'
const [url, anon, work] = process.argv.slice(2);
const fs = require('fs');
(async () => {
  const refresh = [], access = [];
  for (let i = 0; i < 64; i++) {
    const r = await fetch(`${url}/auth/v1/signup`, {
      method: 'POST', headers: { apikey: anon, 'content-type': 'application/json' },
      body: JSON.stringify({ email: `bench-${i}-${Date.now()}@example.com`, password: 'bench-password-1' }),
    });
    const s = await r.json();
    refresh.push(s.refresh_token); access.push(s.access_token);
  }
  fs.writeFileSync(`${work}/refresh.txt`, refresh.join('\n') + '\n');
  fs.writeFileSync(`${work}/access.txt`, access.join('\n') + '\n');
  fs.writeFileSync(`${work}/email.txt`, 'signin@example.com\n');
  await fetch(`${url}/auth/v1/signup`, {
    method: 'POST', headers: { apikey: anon, 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'signin@example.com', password: 'bench-password-1' }),
  });
})();
JS

cat >"$work/refresh.lua" <<LUA
-- Each connection owns two sessions' token chains and follows the rotation.
local tokens, n = {}, 0
for line in io.lines("$work/refresh.txt") do n = n + 1; tokens[n] = line end
local counter = 0
function setup(thread) counter = counter + 1; thread:set("slot", counter) end
local mine, cur
function init() mine = {tokens[slot * 2 - 1], tokens[slot * 2]}; cur = 1 end
function request()
  cur = 3 - cur
  return wrk.format("POST", "/auth/v1/token?grant_type=refresh_token",
    {["apikey"] = "$anon", ["content-type"] = "application/json"},
    '{"refresh_token":"' .. mine[cur] .. '"}')
end
function response(status, headers, body)
  local t = body:match('"refresh_token":"([a-z0-9]+)"')
  if t then mine[cur] = t end
end
LUA
cat >"$work/user.lua" <<LUA
local tok = {}
for line in io.lines("$work/access.txt") do tok[#tok + 1] = line end
local i = 0
function request()
  i = i % #tok + 1
  return wrk.format("GET", "/auth/v1/user", {["apikey"] = "$anon", ["authorization"] = "Bearer " .. tok[i]})
end
LUA
cat >"$work/signin.lua" <<LUA
wrk.method = "POST"
wrk.headers["apikey"] = "$anon"
wrk.headers["content-type"] = "application/json"
wrk.body = '{"email":"signin@example.com","password":"bench-password-1"}'
LUA

echo "== token refresh, 32 threads x 1 connection (each rotating its own sessions), ${secs}s"
wrk -t32 -c32 -d"${secs}s" -s "$work/refresh.lua" "$url/auth/v1/token" | grep -E "Requests/sec|Latency|Non-2xx"
echo "== GET /user, 32 connections, ${secs}s"
wrk -t4 -c32 -d"${secs}s" -s "$work/user.lua" "$url/auth/v1/user" | grep -E "Requests/sec|Latency|Non-2xx"
echo "== password sign-in (Argon2id m=19456 KiB t=2 p=1), 8 connections, ${secs}s"
wrk -t4 -c8 -d"${secs}s" -s "$work/signin.lua" "$url/auth/v1/token?grant_type=password" | grep -E "Requests/sec|Latency|Non-2xx"
echo "== RSS of madbase after the runs: $(ps -o rss= -p $pid) KiB"
