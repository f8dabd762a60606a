-- bench/http_search.lua — wrk script: POST /img/search as multipart/form-data (image=<jpeg>, topk), cycling
-- through query images, the bootcamp client's request. Works against pixseek and the Python peer.
--   wrk -t2 -c8 -d30s -s bench/http_search.lua URL -- LISTFILE [TOPK]
-- Prints one line "WRK_JSON {...}" at the end.
local boundary = "----pixseekBench8c2f7d0a"
local reqs, counter = {}, 0

local function body_for(path, topk)
  local f = assert(io.open(path, "rb")); local d = f:read("*a"); f:close()
  return "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"image\"; filename=\"q.jpg\"\r\n" ..
    "Content-Type: image/jpeg\r\n\r\n" .. d .. "\r\n--" .. boundary ..
    "\r\nContent-Disposition: form-data; name=\"topk\"\r\n\r\n" .. topk .. "\r\n--" .. boundary .. "--\r\n"
end

function init(args)
  local topk = args[2] or "10"
  local headers = { ["Content-Type"] = "multipart/form-data; boundary=" .. boundary }
  for line in io.lines(args[1]) do
    if #line > 0 then reqs[#reqs + 1] = wrk.format("POST", "/img/search", headers, body_for(line, topk)) end
  end
  counter = math.random(#reqs) - 1
end

function request() counter = counter + 1; return reqs[(counter % #reqs) + 1] end

function done(s, latency, requests)
  local e = s.errors
  io.write(string.format('WRK_JSON {"requests": %d, "rps": %.2f, "errors": %d, "non2xx": %d, ' ..
    '"p50_ms": %.3f, "p99_ms": %.3f}\n', s.requests, s.requests / (s.duration / 1e6),
    e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
