-- ArgoCD health check for tartinfra.dev/ManagedCluster (argocd-cm key
-- resource.customizations.health.tartinfra.dev_ManagedCluster).
--
-- By phase: Ready is Healthy; Degraded and Failed are Degraded with the reason and message
-- of the condition that is not True, earliest in the bring-up order; every other phase
-- (Pending, ProvisioningVMs, Bootstrapping, Joining, InstallingAddons, Deleting) is
-- Progressing with what the operator is doing. spec.paused is Suspended. A status older
-- than the spec (observedGeneration behind metadata.generation) is Progressing.
--
-- Lua 5.1 as ArgoCD's gopher-lua runs it: the object is the global `obj`, and only the
-- base, table and os libraries are loaded (no string or math library, no string methods).

-- The conditions in the order a cluster comes up: the first that is not True is the cause.
local ORDER = { "Provisioned", "Bootstrapped", "Joined", "Reachable", "NodesReady", "AddonsReady" }

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

local function said(label, message)
  if message == nil or message == "" then
    return label
  end
  return label .. ": " .. message
end

-- The first condition of ORDER that is present and not True (False or Unknown), or nil.
local function blocking(status)
  for _, kind in ipairs(ORDER) do
    local c = condition(status, kind)
    if c ~= nil and c.status ~= "True" then
      return c
    end
  end
  return nil
end

local hs = {}
local status = obj.status

if obj.spec ~= nil and obj.spec.paused == true then
  hs.status = "Suspended"
  local paused = nil
  if status ~= nil then
    paused = condition(status, "Paused")
  end
  if paused ~= nil and paused.status == "True" then
    hs.message = said("Paused", paused.message)
  else
    hs.message = "Paused: spec.paused is true"
  end
  return hs
end

if status == nil or status.phase == nil then
  hs.status = "Progressing"
  hs.message = "waiting for the operator"
  return hs
end

local generation = nil
if obj.metadata ~= nil then
  generation = obj.metadata.generation
end
if generation ~= nil and status.observedGeneration ~= nil and status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "waiting for the operator to observe generation " .. generation
    .. " (status is of generation " .. status.observedGeneration .. ")"
  return hs
end

local phase = status.phase
local cause = blocking(status)
if phase == "Ready" then
  hs.status = "Healthy"
  local label = "Ready"
  if status.readyNodes ~= nil then
    label = label .. ": " .. status.readyNodes .. " nodes Ready"
  end
  if status.kubernetesVersion ~= nil then
    label = label .. " (" .. status.kubernetesVersion .. ")"
  end
  hs.message = label
elseif phase == "Degraded" or phase == "Failed" then
  hs.status = "Degraded"
  if cause ~= nil then
    hs.message = said(tostring(cause.reason), cause.message)
  elseif status.readyNodes ~= nil then
    hs.message = phase .. ": " .. status.readyNodes .. " nodes Ready"
  else
    hs.message = phase
  end
else
  hs.status = "Progressing"
  local op = status.lastOperation
  if op ~= nil and op.description ~= nil then
    local label = phase
    if op.progressPercent ~= nil then
      label = label .. " (" .. op.progressPercent .. "%)"
    end
    hs.message = said(label, op.description)
  elseif cause ~= nil then
    hs.message = said(phase, said(tostring(cause.reason), cause.message))
  else
    hs.message = phase
  end
end
return hs
