-- The HTTP floor: GET /health, a constant answer that touches no database. What any request
-- costs the data plane and wrk before the data API does anything.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

request = function()
  return wrk.format("GET", "/health")
end
