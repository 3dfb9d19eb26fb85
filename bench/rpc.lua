-- POST /rpc of a trivial SQL function, as supabase-js calls it.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
wrk.headers["Content-Type"] = "application/json"

request = function()
  return wrk.format("POST", "/rest/v1/rpc/bench_add", nil,
    '{"a":' .. math.random(1, 1000) .. ',"b":' .. math.random(1, 1000) .. '}')
end
