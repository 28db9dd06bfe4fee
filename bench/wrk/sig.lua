-- wrk script: POST /v1/upload-signatures with a bearer token and a small JSON body.
-- Env: BENCH_TOKEN (the HS256 JWT; passed by env, never argv), BENCH_SIG_BODY
-- (default "{}": no client overrides). The same request goes to vodgate, the
-- Express sample (which ignores the token) and nginx (which ignores everything).
-- done() prints one machine-readable line: WRK_RESULT {json}.
local token = os.getenv("BENCH_TOKEN") or ""
wrk.method = "POST"
wrk.body = os.getenv("BENCH_SIG_BODY") or "{}"
wrk.headers["Content-Type"] = "application/json"
if token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"rps":%.1f,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"non2xx":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout))
end
