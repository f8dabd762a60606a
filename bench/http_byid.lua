-- bench/http_byid.lua — wrk script: POST /api/search {"id": N, "topk": K} (search with a stored image's
-- embedding: no upload, no decoding, no CNN), cycling over ids 1..MAXID.
--   wrk -t2 -c8 -d30s -s bench/http_byid.lua URL -- MAXID [TOPK]
local reqs = {}
local counter = 0
function init(args)
  local maxid, topk = tonumber(args[1]), args[2] or "10"
  local headers = { ["Content-Type"] = "application/json" }
  for i = 1, 512 do
    local id = math.random(maxid)
    reqs[i] = wrk.format("POST", "/api/search", headers, '{"id":' .. id .. ',"topk":' .. topk .. '}')
  end
end
function request() counter = counter + 1; return reqs[(counter % #reqs) + 1] end
function done(s, latency, requests)
  local e = s.errors
  io.write(string.format('WRK_JSON {"requests": %d, "rps": %.2f, "errors": %d, "non2xx": %d, ' ..
    '"p50_ms": %.3f, "p99_ms": %.3f}\n', s.requests, s.requests / (s.duration / 1e6),
    e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
