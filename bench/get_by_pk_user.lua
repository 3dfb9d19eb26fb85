-- GET one row by primary key as a signed-in user: the bearer token is a user's (USER_TOKEN), not
-- the API key, so the data API checks it itself (once, with its JWT cache).
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("USER_TOKEN") or "")

request = function()
  return wrk.format("GET", "/rest/v1/bench_items?id=eq." .. math.random(1, 100000))
end
