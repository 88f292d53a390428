-- ArgoCD health check for tartinfra.dev/TestSchedule (argocd-cm key
-- resource.customizations.health.tartinfra.dev_TestSchedule).
--
-- A schedule's health is whether it schedules, not how its runs went (each run is its own
-- LoadTest or ScalingExperiment, with its own health): Healthy while its Ready condition is
-- True (with the next due time), Suspended while spec.suspend is true, Degraded when its
-- schedule or time zone is invalid (the operator's message names the field), Progressing
-- until the operator has looked at it.
--
-- Lua 5.1 as ArgoCD's gopher-lua runs it: the object is the global `obj`, and only the
-- base, table and os libraries are loaded (no string or math library, no string methods).

local function said(label, message)
  if message == nil or message == "" then
    return label
  end
  return label .. ": " .. message
end

local function ready(status)
  if status == nil or status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == "Ready" then
      return c
    end
  end
  return nil
end

local hs = {}
local c = ready(obj.status)
if obj.spec ~= nil and obj.spec.suspend == true then
  hs.status = "Suspended"
  hs.message = "spec.suspend is true: no runs are created"
elseif c == nil then
  hs.status = "Progressing"
  hs.message = "waiting for the operator"
elseif c.status == "True" then
  hs.status = "Healthy"
  hs.message = said(c.reason, c.message)
elseif c.reason == "Suspended" then
  hs.status = "Suspended"
  hs.message = said(c.reason, c.message)
else
  hs.status = "Degraded"
  hs.message = said(c.reason, c.message)
end
return hs
