-- GET 100 consecutive rows from a random start, each with its many-to-one parent embedded.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

request = function()
  local from = math.random(0, 99900)
  return wrk.format("GET",
    "/rest/v1/bench_items?select=id,name,price,bench_parents(id,name)&id=gt." .. from .. "&order=id&limit=100")
end
