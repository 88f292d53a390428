-- ArgoCD health check for tartinfra.dev/LoadTest (argocd-cm key
-- resource.customizations.health.tartinfra.dev_LoadTest).
--
-- Progressing while the test waits, is queued, starts or runs; Healthy once it Succeeded
-- with every threshold held; Degraded with the reason and the operator's message once it
-- Failed (ThresholdsBreached, Timeout, OOMKilled, ...). Completed means the runner ran but
-- measured nothing (reason RunnerSimulated: a simulated node): not a failure, but no verdict
-- either, so it is Degraded too. A LoadTest used as a PostSync hook thus fails the sync when
-- its thresholds break or when nothing was measured. A Succeeded test with spec.baseline
-- whose RegressionDetected condition is True is Degraded too, with the condition's message
-- (which metric is worse than the baseline's past its tolerance).
--
-- Lua 5.1 as ArgoCD's gopher-lua runs it: the object is the global `obj`, and only the
-- base, table and os libraries are loaded (no string or math library, no string methods).

local function condition(status, kind)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

-- "<label>: <message>", or the label alone.
local function said(label, message)
  if message == nil or message == "" then
    return label
  end
  return label .. ": " .. message
end

-- The thresholds whose verdict is false, as "metric expression, ...", or nil.
local function breached(status)
  if status.results == nil or status.results.thresholds == nil then
    return nil
  end
  local names = {}
  for _, t in ipairs(status.results.thresholds) do
    if t.passed == false then
      table.insert(names, tostring(t.metric) .. " " .. tostring(t.expression))
    end
  end
  if #names == 0 then
    return nil
  end
  return table.concat(names, ", ")
end

local hs = {}
local status = obj.status
if status == nil or status.phase == nil then
  hs.status = "Progressing"
  hs.message = "waiting for the operator"
  if status ~= nil and status.message ~= nil then
    hs.message = said(hs.message, status.message)
  end
  return hs
end

local phase = status.phase
if phase == "Pending" then
  hs.status = "Progressing"
  local queued = condition(status, "Queued")
  if queued ~= nil and queued.status == "True" then
    hs.message = said("Queued", status.message)
  else
    hs.message = said("Pending", status.message)
  end
elseif phase == "Starting" then
  hs.status = "Progressing"
  hs.message = said("Starting", status.message)
elseif phase == "Running" then
  hs.status = "Progressing"
  local label = "Running"
  if status.progressPercent ~= nil then
    label = label .. " (" .. status.progressPercent .. "%)"
  end
  hs.message = said(label, status.message)
elseif phase == "Succeeded" then
  -- The operator fails a test whose thresholds broke; a verdict of false under Succeeded
  -- is still not a pass.
  local broken = breached(status)
  local regression = condition(status, "RegressionDetected")
  if broken ~= nil then
    hs.status = "Degraded"
    hs.message = said("ThresholdsBreached", broken)
  elseif regression ~= nil and regression.status == "True" then
    hs.status = "Degraded"
    hs.message = said("RegressionDetected", regression.message)
  else
    hs.status = "Healthy"
    hs.message = said("Succeeded", status.message)
  end
elseif phase == "Failed" then
  hs.status = "Degraded"
  local reason = status.reason
  if reason == nil then
    reason = "Failed"
  end
  hs.message = said(reason, status.message)
elseif phase == "Completed" then
  -- Nothing was measured, so nothing passed: a gate must not open on it.
  hs.status = "Degraded"
  local reason = status.reason
  if reason == nil then
    reason = "NotMeasured"
  end
  hs.message = said(reason, status.message)
else
  hs.status = "Unknown"
  hs.message = said("unknown phase " .. tostring(phase), status.message)
end
return hs
