-- POST one row with Prefer: return=minimal.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Prefer"] = "return=minimal"

request = function()
  local n = math.random(1, 1000000)
  return wrk.format("POST", "/rest/v1/bench_writes", nil, '{"name":"row ' .. n .. '","n":' .. n .. '}')
end
