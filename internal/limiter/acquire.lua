-- Acquire (or, forced, Hold) the limits of one call, all or nothing.
--
-- KEYS: [1] held:C, [2] keys, [3] thr:C, then per concurrency limit
--       sem:K, peak:K, then per rate limit tat:K, res:K
-- ARGV: [1] now (unix seconds; -1: Redis's TIME), [2] call id C,
--       [3] lease (s), [4] nc, [5] nr, [6] turn grace (s), [7] forced (1/0),
--       [8] note (1/0: a call held back is marked in thr:C),
--       then nc max counts, nr intervals (s), nc keys K, nr keys K
-- Returns {ok 1/0, kind ('' | 'full' | 'paced'), index of the limit (1-based
-- in its kind), wait (µs), first 1/0}.
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local id, lease = ARGV[2], tonumber(ARGV[3])
local nc, nr = tonumber(ARGV[4]), tonumber(ARGV[5])
local grace, forced, note = tonumber(ARGV[6]), ARGV[7] == '1', ARGV[8] == '1'
local a = 8
local rbase = 3 + 2 * nc
-- A turn is kept to the microsecond: one that far ahead has come (the
-- caller was told to come back then, rounded).
local us = 0.000001
-- A peak is kept while its key is used, and a month after.
local peakTTL = 30 * 86400

-- keep extends k's expiry to secs from now, never shortens it.
local function keep(k, secs)
  secs = math.ceil(secs)
  if redis.call('TTL', k) < secs then
    redis.call('EXPIRE', k, secs)
  end
end

local function heldBack(kind, i, wait)
  local first = 0
  if note and redis.call('SET', KEYS[3], '1', 'NX', 'EX', 86400) then
    first = 1
  end
  return {0, kind, i, wait, first}
end

-- 1. A slot of each semaphore: one the call holds already, or a free one.
-- Leases past their end are dropped first: their workers died.
for i = 1, nc do
  local sem = KEYS[3 + 2 * i - 1]
  redis.call('ZREMRANGEBYSCORE', sem, '-inf', now)
  if not forced and not redis.call('ZSCORE', sem, id) then
    if redis.call('ZCARD', sem) >= tonumber(ARGV[a + i]) then
      return heldBack('full', i, 0)
    end
  end
end

-- 2. The call's turn in each bucket: the one it was given, or the bucket's
-- next (never before now). It goes at the latest of them.
local turn, by = now, 0
local given = {}
for j = 1, nr do
  local tat, res = KEYS[rbase + 2 * j - 1], KEYS[rbase + 2 * j]
  redis.call('ZREMRANGEBYSCORE', res, '-inf', now - grace)
  local t = redis.call('ZSCORE', res, id)
  if t then
    t = tonumber(t)
    given[j] = true
  else
    t = math.max(tonumber(redis.call('GET', tat) or '0'), now)
  end
  if t > turn + us then
    turn, by = t, j
  end
end
for j = 1, nr do
  local tat, res = KEYS[rbase + 2 * j - 1], KEYS[rbase + 2 * j]
  local interval = tonumber(ARGV[a + nc + j])
  if turn <= now then
    -- It goes now: a turn given is used, else the bucket's next is taken.
    if given[j] then
      redis.call('ZREM', res, id)
    else
      redis.call('SET', tat, string.format('%.6f', now + interval))
    end
  elseif not given[j] then
    -- It goes at turn: every bucket is taken then, in the order asked.
    redis.call('SET', tat, string.format('%.6f', turn + interval))
    redis.call('ZADD', res, turn, id)
  end
  keep(tat, turn - now + interval + grace)
  if turn > now then
    keep(res, turn - now + grace)
    redis.call('SADD', KEYS[1], 'r:' .. ARGV[a + 2 * nc + nr + j])
  end
end

-- 3. The slots, held from now or its turn for lease.
local expiry = math.max(turn, now) + lease
for i = 1, nc do
  local sem, peak = KEYS[3 + 2 * i - 1], KEYS[3 + 2 * i]
  local key = ARGV[a + nc + nr + i]
  redis.call('ZADD', sem, 'GT', expiry, id)
  keep(sem, expiry - now + grace)
  local n = redis.call('ZCARD', sem)
  if n > tonumber(redis.call('GET', peak) or '0') then
    redis.call('SET', peak, n)
  end
  redis.call('EXPIRE', peak, peakTTL)
  redis.call('SADD', KEYS[2], key)
  redis.call('SADD', KEYS[1], 'c:' .. key)
end
keep(KEYS[1], expiry - now + grace)

if turn > now then
  return heldBack('paced', by, math.floor((turn - now) * 1000000 + 0.5))
end
return {1, '', 0, 0, 0}
