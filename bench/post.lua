-- wrk script: remote-write-shaped POSTs. The body (snappy-compressed WriteRequest, ~8 KiB) is read once
-- from $BENCH_BODY, so every request is identical and wrk formats it once (no per-request Lua).
-- done() prints one machine-readable line the bench parses (latencies in microseconds).

local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/x-protobuf"
wrk.headers["Content-Encoding"] = "snappy"
wrk.headers["X-Prometheus-Remote-Write-Version"] = "0.1.0"
wrk.headers["User-Agent"] = "Prometheus/2.53.0"
wrk.headers["X-Scope-OrgID"] = "bench"
-- Scenario "auth": the same request with HTTP basic auth (-auth.type=token).
local authorization = os.getenv("BENCH_AUTHORIZATION")
if authorization ~= nil and authorization ~= "" then
  wrk.headers["Authorization"] = authorization
  -- BENCH_AUTH_ORGID=0: no X-Scope-OrgID beside the credentials, as Prometheus with basic_auth sends.
  if os.getenv("BENCH_AUTH_ORGID") == "0" then wrk.headers["X-Scope-OrgID"] = nil end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
end
