-- GET one row by primary key, a random id per request.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

request = function()
  return wrk.format("GET", "/rest/v1/bench_items?id=eq." .. math.random(1, 100000))
end
