-- Argo CD health of hrconnector.io/HrConnectorJob, from its kstatus conditions:
--   Degraded     Stalled=True, or Ready=False (Ready's message says why: InvalidCsv, UploadFailed,
--                TooManyRejected, ...)
--   Progressing  the controller has not seen this generation yet, Reconciling=True (a run is
--                under way), or Ready=Unknown/absent (e.g. AwaitingFirstRun)
--   Healthy      Ready=True (Succeeded, Unchanged, NothingToUpload, DryRun)
local hs = {}

local function condition(conditions, type)
  for _, c in ipairs(conditions) do
    if c.type == type then
      return c
    end
  end
  return nil
end

local function describe(c, fallback)
  if c == nil then
    return fallback
  end
  local reason = c.reason or ""
  local message = c.message or ""
  if reason ~= "" and message ~= "" then
    return reason .. ": " .. message
  elseif message ~= "" then
    return message
  elseif reason ~= "" then
    return reason
  end
  return fallback
end

local status = obj.status
if status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller to report status"
  return hs
end

local conditions = status.conditions or {}
local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and status.observedGeneration ~= nil and status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller to observe generation " .. tostring(generation)
  return hs
end

local ready = condition(conditions, "Ready")
local stalled = condition(conditions, "Stalled")
local reconciling = condition(conditions, "Reconciling")

if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  -- Stalled only points at Ready, which holds the message (one message per run).
  if ready ~= nil and ready.status == "False" and (ready.message or "") ~= "" then
    hs.message = describe(ready, "Stalled")
  else
    hs.message = describe(stalled, "Stalled")
  end
  return hs
end
if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = describe(ready, "Not ready")
  return hs
end
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = describe(reconciling, "Reconciling")
  return hs
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready, "Ready")
  return hs
end
hs.status = "Progressing"
hs.message = describe(ready, "Waiting for the Ready condition")
return hs
