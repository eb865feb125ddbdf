-- dockyard's gateway, the parts HAProxy 2.6 has no directive for (Lua 5.3, loaded by haproxy.cfg):
--   * dockyard_timing, a filter that times each request from its headers to the response body's first
--     byte (the first token of a stream) and to its last, into histograms per backend;
--   * dockyard_metrics, the /metrics service: HAProxy's own exporter (from its loopback frontend) and
--     those histograms, in Prometheus text;
--   * the warm-up: at start, one short request to the server, retried until it succeeds; the
--     dockyard_ready fetch turns true then (/ready).
-- Its settings come from the environment dockyard's launcher (serve.py) gives HAProxy.

local function number_list(text)
  local out = {}
  for item in string.gmatch(text or "", "[^,]+") do out[#out + 1] = tonumber(item) end
  return out
end

local BUCKETS = number_list(os.getenv("DOCKYARD_GATEWAY_BUCKETS"))
local UPSTREAM = os.getenv("DOCKYARD_GATEWAY_UPSTREAM")
local EXPORTER = os.getenv("DOCKYARD_GATEWAY_EXPORTER")
local WARM_METHOD = os.getenv("DOCKYARD_GATEWAY_WARM_METHOD") or "GET"
local WARM_PATH = os.getenv("DOCKYARD_GATEWAY_WARM_PATH") or "/health"
local WARM_BODY = os.getenv("DOCKYARD_GATEWAY_WARM_BODY")

local FAMILIES = {
  {name = "dockyard_request_duration_seconds",
   help = "Latency per route: from the request's headers to the response's last byte"},
  {name = "dockyard_time_to_first_byte_seconds",
   help = "Time per route from the request's headers to the response body's first byte (the first token of a stream)"},
}
local histograms = {}  -- family name -> backend -> {counts = {...}, sum, count}
local ready = false

local function now()
  local t = core.now()
  return t.sec + t.usec / 1000000
end

local function observe(family, backend, seconds)
  local by_backend = histograms[family]
  if by_backend == nil then by_backend = {}; histograms[family] = by_backend end
  local h = by_backend[backend]
  if h == nil then
    h = {counts = {}, sum = 0, count = 0}
    for i = 1, #BUCKETS do h.counts[i] = 0 end
    by_backend[backend] = h
  end
  for i = 1, #BUCKETS do
    if seconds <= BUCKETS[i] then h.counts[i] = h.counts[i] + 1 end
  end
  h.sum = h.sum + seconds
  h.count = h.count + 1
end

-- The routes' backends are named api_*, probe_* and admin_*; what the frontend answers itself is not timed.
local function timed(backend)
  return backend ~= nil and (backend:sub(1, 4) == "api_" or backend:sub(1, 6) == "probe_" or backend:sub(1, 6) == "admin_")
end

local Timing = {}
Timing.id = "dockyard timing"
Timing.flags = filter.FLT_CFG_FL_HTX
Timing.__index = Timing

function Timing:new()
  return setmetatable({started = nil, first = false, response = nil}, Timing)
end

function Timing:start_analyze(txn, chn)
  if chn:is_resp() then
    self.response = chn
    filter.register_data_filter(self, chn)
  end
  return filter.CONTINUE
end

function Timing:http_headers(txn, msg)
  if not msg:is_resp() then self.started = now() end
  return filter.CONTINUE
end

function Timing:http_payload(txn, msg)
  if msg:is_resp() and not self.first and msg:input() > 0 then
    self.first = true
    filter.unregister_data_filter(self, self.response)
    local backend = txn.f:be_name()
    if self.started ~= nil and timed(backend) then
      observe("dockyard_time_to_first_byte_seconds", backend, now() - self.started)
    end
  end
end

-- The response's analysis ends once its last byte went out (http_end is not called once the data filter
-- is unregistered, which the first body byte does to keep streams cheap).
function Timing:end_analyze(txn, chn)
  if chn:is_resp() and self.started ~= nil then
    local backend = txn.f:be_name()
    if timed(backend) then observe("dockyard_request_duration_seconds", backend, now() - self.started) end
  end
  return filter.CONTINUE
end

core.register_filter("dockyard_timing", Timing, function(f, args) return f end)

local function sorted_keys(map)
  local keys = {}
  for key in pairs(map) do keys[#keys + 1] = key end
  table.sort(keys)
  return keys
end

local function histogram_text()
  local out = {}
  for _, family in ipairs(FAMILIES) do
    out[#out + 1] = "# HELP " .. family.name .. " " .. family.help
    out[#out + 1] = "# TYPE " .. family.name .. " histogram"
    local by_backend = histograms[family.name] or {}
    for _, backend in ipairs(sorted_keys(by_backend)) do
      local h = by_backend[backend]
      for i = 1, #BUCKETS do
        out[#out + 1] = string.format('%s_bucket{proxy="%s",le="%s"} %d', family.name, backend, BUCKETS[i], h.counts[i])
      end
      out[#out + 1] = string.format('%s_bucket{proxy="%s",le="+Inf"} %d', family.name, backend, h.count)
      out[#out + 1] = string.format('%s_sum{proxy="%s"} %.6f', family.name, backend, h.sum)
      out[#out + 1] = string.format('%s_count{proxy="%s"} %d', family.name, backend, h.count)
    end
  end
  return table.concat(out, "\n") .. "\n"
end

core.register_service("dockyard_metrics", "http", function(applet)
  local response = core.httpclient():get{url = "http://" .. EXPORTER .. "/metrics"}
  local exporter = ""
  if response ~= nil and response.status == 200 and response.body ~= nil then exporter = response.body end
  local body = exporter .. histogram_text()
  applet:set_status(200)
  applet:add_header("content-type", "text/plain; version=0.0.4; charset=utf-8")
  applet:add_header("content-length", string.len(body))
  applet:start_response()
  applet:send(body)
end)

core.register_fetches("dockyard_ready", function(txn) return ready end)

-- One short request, retried with a growing pause until it succeeds; each new kind of failure is logged
-- once (the server's own answer, e.g. a model without a chat template).
core.register_task(function()
  local pause, last = 500, nil
  while true do
    local client = core.httpclient()
    local request = {url = "http://" .. UPSTREAM .. WARM_PATH, headers = {["content-type"] = {"application/json"}}}
    local response
    if WARM_METHOD == "POST" then
      request.body = WARM_BODY or "{}"
      response = client:post(request)
    else
      response = client:get(request)
    end
    local status = response and response.status or 0
    if status == 200 then
      ready = true
      core.Info("dockyard gateway: warm-up " .. WARM_METHOD .. " " .. WARM_PATH .. " answered 200: ready")
      return
    end
    if status ~= 0 then
      local said = string.sub(response.body or "", 1, 400)
      local message = "dockyard gateway: warm-up " .. WARM_METHOD .. " " .. WARM_PATH .. " answered " .. status .. ": " .. said
      if message ~= last then core.Warning(message); last = message end
    end
    core.msleep(pause)
    if pause < 8000 then pause = pause * 2 end
  end
end)
