-- ArgoCD health check for argoproj.io/Application (argocd-cm key
-- resource.customizations.health.argoproj.io_Application).
--
-- ArgoCD 1.8 dropped the health of Applications (argoproj/argo-cd#3781), so a parent
-- Application counts its child Applications Healthy as soon as they exist, and sync waves
-- between children order nothing. With this check a child is as healthy as ArgoCD found
-- its own resources: the parent's next wave waits until the previous wave's Applications
-- are Healthy. gitops/istio uses it to install Istio's charts in order (base, cni, istiod,
-- gateway). This is the script of ArgoCD's documentation (docs/operator-manual/health.md),
-- with a message for a child that has not been assessed yet.
--
-- Lua 5.1 as ArgoCD's gopher-lua runs it: the object is the global `obj`, and only the
-- base, table and os libraries are loaded (no string or math library, no string methods).

local hs = {}
hs.status = "Progressing"
hs.message = "waiting for ArgoCD to assess the Application"
if obj.status ~= nil and obj.status.health ~= nil and obj.status.health.status ~= nil then
  hs.status = obj.status.health.status
  hs.message = obj.status.health.message
  if hs.message == nil then
    hs.message = ""
  end
end
return hs
