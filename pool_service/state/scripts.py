"""The Lua scripts of the shared pool state (pool_service.state.shared): each is one atomic step on Redis, and
each reads Redis's own clock (TIME), so no host's clock is trusted over another's.

They follow selection.Pool's rules (tests/integration/test_cluster_pools.py compares the two). Every time is in
Redis seconds; what hosts send are durations ("resets in 2.5 s"), turned into times here.

The keys, all under one hash tag `{prefix}` (so they share a slot should the Redis ever be a cluster):
  {p}:c:<backend>\\n<credential>  hash: cooldown_until, exhausted_until, quarantine_until, refusals, last_status,
                                  chosen, windows (JSON {name: [limit, remaining, reset_at or -1]}); expires
                                  `keep` seconds after its last window, cooldown or quarantine ends
  {p}:credentials                 set of every <backend>\\n<credential> with a hash (pruned when one expired)
  {p}:inflight:<instance>         hash <backend>\\n<credential> -> requests that instance holds; expires with the
                                  instance's heartbeat
  {p}:instances                   sorted set: instance -> until when its heartbeat keeps it alive (ms)
  {p}:changed                     channel: a backend whose availability changed
"""

from __future__ import annotations

_PRELUDE = """
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function num(value)
  return tonumber(value) or 0
end
-- selection/ratelimit.headroom: the smallest remaining/limit over the windows; a window past its reset is full.
local function headroom(encoded, now)
  if not encoded then return 1 end
  local least = 1
  for _, w in pairs(cjson.decode(encoded)) do
    local fraction = 1
    if not (w[3] >= 0 and now >= w[3]) and w[1] > 0 then
      fraction = math.min(1, math.max(0, w[2] / w[1]))
    end
    if fraction < least then least = fraction end
  end
  return least
end
local function in_flight(prefix, live, field)
  local count = 0
  for _, name in ipairs(live) do count = count + num(redis.call('HGET', prefix .. name, field)) end
  return count
end
"""

# KEYS: this instance's in-flight hash, the instances set, the credentials set, then one hash per candidate.
# ARGV: in-flight key prefix, instance ttl (ms), keep (s), instance, the candidates' fields, their excluded flags.
# Returns {index of the chosen candidate (1-based, 0: none can serve now), now}.
CHOOSE = _PRELUDE + """
local now = clock()
local ttl = tonumber(ARGV[2])
local n = #KEYS - 3
redis.call('ZADD', KEYS[2], now * 1000 + ttl, ARGV[4])
local live = redis.call('ZRANGEBYSCORE', KEYS[2], now * 1000, '+inf')
local best, best_room, best_flight, best_quarantined = nil, 0, 0, false
for i = 1, n do
  if ARGV[4 + n + i] ~= '1' then
    local s = redis.call('HMGET', KEYS[3 + i], 'cooldown_until', 'exhausted_until', 'quarantine_until', 'windows')
    if math.max(num(s[1]), num(s[2])) <= now then
      local quarantined = num(s[3]) > now
      local room = headroom(s[4], now)
      local flight = in_flight(ARGV[1], live, ARGV[4 + i])
      -- Unquarantined first, then the most headroom, then the fewest in flight, then candidate order.
      if best == nil or (best_quarantined and not quarantined)
          or (best_quarantined == quarantined and (room > best_room or (room == best_room and flight < best_flight)))
      then
        best, best_room, best_flight, best_quarantined = i, room, flight, quarantined
      end
    end
  end
end
if best == nil then return {0, tostring(now)} end
local field, key = ARGV[4 + best], KEYS[3 + best]
redis.call('HINCRBY', KEYS[1], field, 1)
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('HINCRBY', key, 'chosen', 1)
if redis.call('PTTL', key) < 0 then redis.call('EXPIRE', key, ARGV[3]) end
redis.call('SADD', KEYS[3], field)
return {best, tostring(now)}
"""

# KEYS: one hash per candidate. ARGV: their excluded flags. Returns {now, earliest ready time or ""}.
AVAILABLE = _PRELUDE + """
local now = clock()
local earliest = nil
for i = 1, #KEYS do
  if ARGV[i] ~= '1' then
    local s = redis.call('HMGET', KEYS[i], 'cooldown_until', 'exhausted_until')
    local at = math.max(num(s[1]), num(s[2]))
    if earliest == nil or at < earliest then earliest = at end
  end
end
return {tostring(now), earliest and tostring(earliest) or ''}
"""

# selection.Pool.apply (and the release of settle). KEYS: the credential's hash, this instance's in-flight hash,
# the credentials set. ARGV: field, release (1/0), status, observed windows (JSON {name: [limit, remaining,
# reset_in or -1]}), retry_in or "", cooldown_in or "" (for a 429), quarantine base and max (s), keep (s),
# chosen (1/0), channel, backend. Publishes the backend when the credential's availability changed. Returns now.
APPLY = _PRELUDE + """
local now = clock()
local key, field = KEYS[1], ARGV[1]
if ARGV[2] == '1' and redis.call('HINCRBY', KEYS[2], field, -1) <= 0 then redis.call('HDEL', KEYS[2], field) end
local s = redis.call('HMGET', key, 'cooldown_until', 'exhausted_until', 'quarantine_until', 'windows', 'refusals')
local cooldown, exhausted, quarantine, refusals = num(s[1]), num(s[2]), num(s[3]), num(s[5])
local before_ready, before_quarantine = math.max(cooldown, exhausted), quarantine
local windows = {}
if s[4] then windows = cjson.decode(s[4]) end
local observed = false
for name, w in pairs(cjson.decode(ARGV[4])) do
  observed = true
  local reset = -1
  if w[3] >= 0 then reset = now + w[3] end
  windows[name] = {w[1], w[2], reset}
end
local status, retry_in = tonumber(ARGV[3]), tonumber(ARGV[5])
if observed then
  -- Windows at 0 keep the credential out until the upstream's retry-after, else until the latest of their resets.
  local latest = nil
  for _, w in pairs(windows) do
    if w[2] <= 0 and w[3] > now and (latest == nil or w[3] > latest) then latest = w[3] end
  end
  if latest == nil then exhausted = 0 elseif retry_in then exhausted = now + retry_in else exhausted = latest end
end
if status == 429 then
  cooldown = math.max(cooldown, now + (tonumber(ARGV[6]) or 1))
elseif status == 401 or status == 403 then
  refusals = refusals + 1
  local backoff = math.min(tonumber(ARGV[8]), tonumber(ARGV[7]) * 2 ^ math.min(refusals - 1, 16))
  quarantine = math.max(quarantine, now + backoff)
elseif status >= 200 and status < 400 then
  refusals, quarantine = 0, 0
end
local ends = math.max(now, cooldown, exhausted, quarantine)
for _, w in pairs(windows) do if w[3] > ends then ends = w[3] end end
redis.call('HSET', key, 'cooldown_until', tostring(cooldown), 'exhausted_until', tostring(exhausted),
  'quarantine_until', tostring(quarantine), 'refusals', refusals, 'last_status', status,
  'windows', cjson.encode(windows))
if ARGV[10] == '1' then redis.call('HINCRBY', key, 'chosen', 1) end
redis.call('PEXPIREAT', key, string.format('%d', math.ceil((ends + tonumber(ARGV[9])) * 1000)))
redis.call('SADD', KEYS[3], field)
if math.max(cooldown, exhausted) ~= before_ready or quarantine ~= before_quarantine then
  redis.call('PUBLISH', ARGV[11], ARGV[12])
end
return tostring(now)
"""

# The re-sync after an outage: what this host learned meanwhile, merged in without undoing what others learned.
# KEYS: the credential's hash, the credentials set. ARGV: field, cooldown_in, exhausted_in, quarantine_in (s, 0:
# none), windows (JSON {name: [limit, remaining, reset_in]}, only those still running), keep (s), channel, backend.
# Later ends win; of two running windows, the one with less room left.
MERGE = _PRELUDE + """
local now = clock()
local key = KEYS[1]
local s = redis.call('HMGET', key, 'cooldown_until', 'exhausted_until', 'quarantine_until', 'windows')
local ends = {num(s[1]), num(s[2]), num(s[3])}
local before = math.max(ends[1], ends[2], ends[3])
for i = 1, 3 do
  local offset = tonumber(ARGV[1 + i])
  if offset > 0 then ends[i] = math.max(ends[i], now + offset) end
end
local windows = {}
if s[4] then windows = cjson.decode(s[4]) end
for name, w in pairs(cjson.decode(ARGV[5])) do
  local mine = {w[1], w[2], now + w[3]}
  local theirs = windows[name]
  if theirs == nil or theirs[3] < now or (w[1] > 0 and theirs[1] > 0 and w[2] / w[1] < theirs[2] / theirs[1]) then
    windows[name] = mine
  end
end
local latest = math.max(now, ends[1], ends[2], ends[3])
for _, w in pairs(windows) do if w[3] > latest then latest = w[3] end end
redis.call('HSET', key, 'cooldown_until', tostring(ends[1]), 'exhausted_until', tostring(ends[2]),
  'quarantine_until', tostring(ends[3]), 'windows', cjson.encode(windows))
redis.call('PEXPIREAT', key, string.format('%d', math.ceil((latest + tonumber(ARGV[6])) * 1000)))
redis.call('SADD', KEYS[2], ARGV[1])
if math.max(ends[1], ends[2], ends[3]) ~= before then redis.call('PUBLISH', ARGV[7], ARGV[8]) end
return tostring(now)
"""

# KEYS: the credentials set. ARGV: the credential key prefix. Returns {now, field, ready_at, field, ready_at …}
# for the credentials that cannot serve now; forgets the members whose hash expired.
UNAVAILABLE = _PRELUDE + """
local now = clock()
local out = {tostring(now)}
for _, field in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. field) == 0 then
    redis.call('SREM', KEYS[1], field)
  else
    local s = redis.call('HMGET', ARGV[1] .. field, 'cooldown_until', 'exhausted_until')
    local ready = math.max(num(s[1]), num(s[2]))
    if ready > now then
      table.insert(out, field)
      table.insert(out, tostring(ready))
    end
  end
end
return out
"""

# KEYS: the credentials set, the instances set. ARGV: the credential key prefix, the in-flight key prefix.
# Returns JSON {now, credentials: {field: {the hash's fields, in_flight (over live instances)}}}.
SNAPSHOT = _PRELUDE + """
local now = clock()
local live = redis.call('ZRANGEBYSCORE', KEYS[2], now * 1000, '+inf')
local credentials = {}
for _, field in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local flat = redis.call('HGETALL', ARGV[1] .. field)
  if #flat > 0 then
    local state = {}
    for i = 1, #flat, 2 do state[flat[i]] = flat[i + 1] end
    state['in_flight'] = in_flight(ARGV[2], live, field)
    credentials[field] = state
  end
end
return cjson.encode({now = tostring(now), credentials = credentials})
"""

# The heartbeat. KEYS: the instances set, this instance's in-flight hash. ARGV: instance, ttl (ms), "keep" or
# "rewrite" (the re-sync after an outage) followed by the field/count pairs the in-flight hash is to hold.
BEAT = """
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if ARGV[3] == 'rewrite' then
  redis.call('DEL', KEYS[2])
  for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[3], ARGV[2])
return tostring(now_ms / 1000)
"""

# The queue depth of every live instance (KEYS[1] instances, KEYS[2] queues; ARGV[1] this instance, ARGV[2] its
# depth now, ARGV[3] the hash's time to live in ms): this one's written first, the dead ones' fields dropped;
# answers instance, depth, instance, depth, ...
QUEUES = """
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
local answer = {}
local depths = redis.call('HGETALL', KEYS[2])
for i = 1, #depths, 2 do
  local until_ms = redis.call('ZSCORE', KEYS[1], depths[i])
  if depths[i] == ARGV[1] or (until_ms and tonumber(until_ms) > now_ms) then
    table.insert(answer, depths[i])
    table.insert(answer, depths[i + 1])
  else
    redis.call('HDEL', KEYS[2], depths[i])
  end
end
return answer
"""
