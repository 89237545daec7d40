-- stream.lua — wrk script: POSTs the precomputed signed requests of
-- bench/gen-requests.mjs, one new record per request, in file order.
--
-- usage: wrk ... -s stream.lua URL -- PATH FILE RECORD_LEN COUNT [START]
--   PATH        request path ("/in/bench", "/hooks/bench", ...)
--   FILE        the record file; RECORD_LEN bytes per record, COUNT records
--   START       first record to use (default 0)
-- With several threads, records START..COUNT are split into one slice per
-- thread. A thread that reaches the end of its slice starts it again and
-- counts a wrap: a wrapped run re-sends bodies, which is harmless for
-- targets that keep no state but invalid for hookgate's unique-message
-- runs (bench/run.sh refuses those results).
--
-- done() prints one line "BENCHJSON {...}" with the totals and latency
-- percentiles (microseconds) for bench/run.sh.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local f, rec_len, lo, hi, pos, prefix
wraps = 0
sent = 0

function init(args)
  local path, file = args[1], args[2]
  rec_len = tonumber(args[3])
  local count = tonumber(args[4])
  local start = tonumber(args[5] or "0")
  local nthreads = tonumber(args[6] or "1")
  local per = math.floor((count - start) / nthreads)
  lo = start + tid * per
  hi = lo + per
  pos = lo
  f = assert(io.open(file, "rb"))
  f:setvbuf("full", 1048576)
  f:seek("set", lo * rec_len)
  local host = wrk.host
  if wrk.port then host = host .. ":" .. wrk.port end
  prefix = "POST " .. path .. " HTTP/1.1\r\nHost: " .. host .. "\r\n"
end

function request()
  if pos >= hi then
    pos = lo
    f:seek("set", lo * rec_len)
    wraps = wraps + 1
  end
  pos = pos + 1
  sent = sent + 1
  return prefix .. f:read(rec_len)
end

function done(summary, latency, requests)
  local w, s = 0, 0
  for _, t in ipairs(threads) do
    w = w + (t:get("wraps") or 0)
    s = s + (t:get("sent") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"err_connect":%d,' ..
    '"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f,' ..
    '"wraps":%d,"sent":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean, w, s))
end
