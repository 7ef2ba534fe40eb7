-- Closed-loop answer writes for wrk (benchmarks/pipeline.py runs it; see its docstring).
--
--   wrk -t T -c C -d 30s --timeout 30s -s benchmarks/wrk/answers.lua http://127.0.0.1:PORT -- ITEMS T
--
-- ITEMS: one line per innovation (or minimal-endpoint item), tab-separated:
--   index, path of its answer (PUT), bearer token, current version, current level (1 or 3)
-- Thread t (0-based) owns the items whose index mod T is t; with C/T items per thread and
-- C/T connections per thread, each connection always has an item of its own: an item is
-- taken from the thread's free list when a request is built and put back when its answer
-- comes (matched through the X-Correlation-ID the server echoes; at most one write per item
-- is in flight). Each write flips the
-- item's level (1 <-> 3) and sends the version of the last answer as If-Match; a 412 takes
-- the server's current_version. At the end one line is printed:
--   WRK-RESULT {"requests":…,"duration_us":…,"ok":…,"stale":…,"failed":…,"socket_errors":…,
--               "shared":…,"p50_us":…,"p99_us":…,"last_events":{"index":"event id",…},
--               "failures":{"503":n,…}}   (the other answers by status; "500 unmatched": without
--               the X-Correlation-ID echoed, so the item stays taken)

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

function init(args)
  local path, nthreads = args[1], tonumber(args[2])
  items, free, order, last_events = {}, {}, {}, {}
  ok, stale, failed, shared, seq, next_shared = 0, 0, 0, 0, 0, 1
  failures = {}  -- "status" (or "status unmatched": no correlation id echoed) -> count
  for line in io.lines(path) do
    local index, target, token, version, level = line:match("^(%d+)\t([^\t]+)\t([^\t]+)\t(%d+)\t(%d+)$")
    index = tonumber(index)
    if index ~= nil and index % nthreads == id then
      items[index] = {path = target, auth = "Bearer " .. token, version = tonumber(version), level = tonumber(level)}
      table.insert(free, index)
      table.insert(order, index)
    end
  end
  if #order == 0 then
    error("no items for thread " .. id)
  end
end

function request()
  if id == 0 and not verified then
    -- wrk calls request() once in thread 0 before the run, only to count the requests in what
    -- it returns (pipelining); never sent. Take no item for it.
    verified = true
    return wrk.format("GET", "/")
  end
  local index = table.remove(free)
  if index == nil then
    -- Only after a connection lost an answer (socket error): share an item; a 412 resyncs it.
    index = order[next_shared]
    next_shared = next_shared % #order + 1
    shared = shared + 1
  end
  local item = items[index]
  seq = seq + 1
  item.pending = 4 - item.level
  return wrk.format("PUT", item.path, {
    ["Authorization"] = item.auth,
    ["If-Match"] = '"' .. item.version .. '"',
    ["Content-Type"] = "application/json",
    ["X-Correlation-ID"] = "b" .. index .. "." .. seq,
  }, '{"level": ' .. item.pending .. '}')
end

local function header(headers, lower, canonical)
  return headers[lower] or headers[canonical]
end

function response(status, headers, body)
  local correlation = header(headers, "x-correlation-id", "X-Correlation-ID")
  local index = correlation and tonumber(correlation:match("^b(%d+)%."))
  local item = index and items[index]
  if item == nil then
    failed = failed + 1
    local key = status .. " unmatched"
    failures[key] = (failures[key] or 0) + 1
    return
  end
  if status >= 200 and status < 300 then
    ok = ok + 1
    local etag = header(headers, "etag", "ETag")
    item.version = tonumber(etag:match("(%d+)"))
    item.level = item.pending
    last_events[tostring(index)] = header(headers, "x-event-id", "X-Event-Id")
  elseif status == 412 then
    stale = stale + 1
    local current = body:match('"current_version"%s*:%s*(%d+)')
    if current then
      item.version = tonumber(current)
    end
  else
    failed = failed + 1
    local key = tostring(status)
    failures[key] = (failures[key] or 0) + 1
  end
  table.insert(free, index)
end

local function json_string(s)
  return '"' .. tostring(s):gsub('[%c"\\]', "") .. '"'
end

function done(summary, latency, requests)
  local totals = {ok = 0, stale = 0, failed = 0, shared = 0}
  local events = {}
  local failures_by_status = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("failures") or {}) do
      failures_by_status[status] = (failures_by_status[status] or 0) + count
    end
    for name, _ in pairs(totals) do
      totals[name] = totals[name] + (thread:get(name) or 0)
    end
    for index, event in pairs(thread:get("last_events") or {}) do
      table.insert(events, json_string(index) .. ":" .. json_string(event))
    end
  end
  local e = summary.errors
  local failure_items = {}
  for status, count in pairs(failures_by_status) do
    table.insert(failure_items, json_string(status) .. ":" .. count)
  end
  io.write(string.format(
    'WRK-RESULT {"requests":%d,"duration_us":%d,"ok":%d,"stale":%d,"failed":%d,"shared":%d,' ..
    '"socket_errors":%d,"non_2xx":%d,"p50_us":%d,"p99_us":%d,"last_events":{%s},"failures":{%s}}\n',
    summary.requests, summary.duration, totals.ok, totals.stale, totals.failed, totals.shared,
    e.connect + e.read + e.write + e.timeout, e.status, latency:percentile(50), latency:percentile(99),
    table.concat(events, ","), table.concat(failure_items, ",")))
end
