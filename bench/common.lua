-- Shared by the bench/*.lua wrk scripts: the API key headers and a machine-readable summary.

local key = os.getenv("ANON_KEY") or ""
wrk.headers["apikey"] = key
wrk.headers["Authorization"] = "Bearer " .. key

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
