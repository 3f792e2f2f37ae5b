-- wrk script for the Legate macro bench.
--
-- Checks every response: anything whose status is not exactly 200 is counted
-- (wrk itself only counts status > 399), and so is any body whose length is
-- not the expected one (passed after `--`: wrk ... <url> -- <body bytes>).
-- At the end, prints one line
--   WRK_JSON {...}
-- with the per-run totals the harness needs to decide whether a run is valid,
-- plus exact latency percentiles in microseconds.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  non200 = 0
  first_bad = 0
  badbody = 0
  expect_len = tonumber(args[1] or "")
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
    if first_bad == 0 then first_bad = status end
  elseif expect_len and #body ~= expect_len then
    badbody = badbody + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  local bad_status = 0
  local bad_body = 0
  for _, t in ipairs(threads) do
    bad = bad + (t:get("non200") or 0)
    bad_body = bad_body + (t:get("badbody") or 0)
    local fb = t:get("first_bad") or 0
    if fb ~= 0 then bad_status = fb end
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"non200":%d,"first_bad_status":%d,"bad_body":%d,' ..
    '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d,' ..
    '"lat_mean_us":%.1f,"lat_max_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, bad, bad_status, bad_body,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9)))
end
