-- rotate.lua: a wrk script for frontend evaluation endpoints.
--
-- Every request carries a different userId and sessionId in its query, so
-- that a server cannot answer from a per-context cache, and the
-- Authorization header is set from the environment variable WRK_AUTH or
-- from the first script argument:
--
--   WRK_AUTH='*:development.fe123' wrk -t2 -c32 -d10s -s bench/wrk/rotate.lua \
--       'http://127.0.0.1:3063/api/frontend'
--   wrk ... -s bench/wrk/rotate.lua http://127.0.0.1:3000/proxy -- proxy-secret
--
-- WRK_USERS (default 10000) is the number of distinct users per thread;
-- threads draw from disjoint ranges. The query is appended to the URL's
-- path, after its own query if it has one.
--
-- done() prints one parseable line (latencies in microseconds):
--   RESULT requests=N duration_us=N rps=F bytes=N p50_us=N p90_us=N p99_us=N
--   max_us=N mean_us=F errors_connect=N errors_read=N errors_write=N
--   errors_timeout=N errors_status=N
-- wrk measures latency from the request's send, so it does not correct
-- for coordinated omission; compare p99 values taken with the same -c.

local auth
local users = tonumber(os.getenv("WRK_USERS") or "") or 10000
local ring = {}
local pos = 0

local threads = {}
local nextID = 0

function setup(thread)
  thread:set("tid", nextID)
  nextID = nextID + 1
  table.insert(threads, thread)
end

function init(args)
  auth = args[1] or os.getenv("WRK_AUTH")
  if auth == nil or auth == "" then
    io.stderr:write("rotate.lua: set WRK_AUTH or pass the token after --\n")
    os.exit(2)
  end
  local base = wrk.path
  local sep = "?"
  if string.find(base, "?", 1, true) then sep = "&" end
  local headers = { ["Authorization"] = auth }
  local first = (tid or 0) * users
  -- Pre-format one request per user so that the generator spends its CPU
  -- on sockets, not on Lua string building (about 150 bytes each).
  for i = 1, users do
    local id = first + i - 1
    ring[i] = wrk.format("GET", base .. sep .. "userId=user-" .. id .. "&sessionId=" .. (1000000 + id), headers)
  end
  pos = 0
end

function request()
  pos = pos + 1
  if pos > users then pos = 1 end
  return ring[pos]
end

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "RESULT requests=%d duration_us=%d rps=%.1f bytes=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.1f " ..
    "errors_connect=%d errors_read=%d errors_write=%d errors_timeout=%d errors_status=%d\n",
    summary.requests, summary.duration, summary.requests / secs, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    e.connect, e.read, e.write, e.timeout, e.status))
end
