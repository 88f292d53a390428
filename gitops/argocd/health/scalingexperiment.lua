-- ArgoCD health check for tartinfra.dev/ScalingExperiment (argocd-cm key
-- resource.customizations.health.tartinfra.dev_ScalingExperiment).
--
-- Progressing while it waits, samples the baseline, loads or cools down; Healthy once it
-- Completed (with its key results); Degraded with the reason and the operator's message once
-- it Failed (LoadTestFailed, ClusterUnavailable, NoHpa, Cancelled, InvalidSpec). The load's
-- own verdict is the child LoadTest's health. A Completed experiment with spec.baseline
-- whose RegressionDetected condition is True is Degraded, with the condition's message.
--
-- Lua 5.1 as ArgoCD's gopher-lua runs it: the object is the global `obj`, and only the
-- base, table and os libraries are loaded (no string or math library, no string methods).

local function said(label, message)
  if message == nil or message == "" then
    return label
  end
  return label .. ": " .. message
end

-- The KPIs in a few words ("peak 6 replicas, first scale-up after 35s"), or nil.
local function results(status)
  local k = status.kpis
  if k == nil then
    return nil
  end
  local parts = {}
  if k.peakReplicas ~= nil then
    table.insert(parts, "peak " .. k.peakReplicas .. " replicas")
  end
  if k.scaleUpLatencySeconds ~= nil then
    -- Whole seconds: `x - x % 1` floors without the math library.
    local s = k.scaleUpLatencySeconds
    table.insert(parts, "first scale-up after " .. (s - s % 1) .. "s")
  end
  if #parts == 0 then
    return nil
  end
  return table.concat(parts, ", ")
end

local function regression(status)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == "RegressionDetected" and c.status == "True" then
      return c
    end
  end
  return nil
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
if phase == "Pending" or phase == "Baseline" or phase == "Loading" or phase == "CoolingDown" then
  hs.status = "Progressing"
  hs.message = said(phase, status.message)
elseif phase == "Completed" and regression(status) ~= nil then
  hs.status = "Degraded"
  hs.message = said("RegressionDetected", regression(status).message)
elseif phase == "Completed" then
  hs.status = "Healthy"
  local label = "Completed"
  local kpis = results(status)
  if kpis ~= nil then
    label = label .. " (" .. kpis .. ")"
  end
  hs.message = said(label, status.message)
elseif phase == "Failed" then
  hs.status = "Degraded"
  local reason = status.reason
  if reason == nil then
    reason = "Failed"
  end
  hs.message = said(reason, status.message)
else
  hs.status = "Unknown"
  hs.message = said("unknown phase " .. tostring(phase), status.message)
end
return hs
