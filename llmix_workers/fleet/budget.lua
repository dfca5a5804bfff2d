-- One fleet-wide budget: GCRA over requests and tokens per minute, with reservations, in one
-- round trip. Times are Redis' clock, milliseconds.
-- KEYS[1] the budget's hash, KEYS[2] the fleet's members (sorted set scored by last check).
-- ARGV: op ("draw" | "shrink" | "hold"), rpm, tpm (0: none), tokens, correction (tokens owed from
-- earlier calls' usage, may be negative), burst_ms, max_wait_ms, recovery_ms, member_ttl_ms,
-- retry_after_ms, min_factor, shrink_gap_ms.
-- Returns {granted (0/1), wait_ms, live members, factor}, the numbers as strings.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local op = ARGV[1]
local rpm, tpm = tonumber(ARGV[2]), tonumber(ARGV[3])
local tokens, correction = tonumber(ARGV[4]), tonumber(ARGV[5])
local burst, max_wait, recovery = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local member_ttl, retry_after = tonumber(ARGV[9]), tonumber(ARGV[10])
local min_factor, shrink_gap = tonumber(ARGV[11]), tonumber(ARGV[12])

local s = redis.call('HMGET', KEYS[1], 'rtat', 'ttat', 'factor', 'factor_at', 'paused')
local rtat = tonumber(s[1]) or 0
local ttat = tonumber(s[2]) or 0
local f0 = tonumber(s[3]) or 1
local fat = tonumber(s[4]) or 0
local paused = tonumber(s[5]) or 0
-- A shrunk budget grows back linearly: from nothing to whole in recovery_ms.
local factor = math.min(1, f0 + (now - fat) / recovery)
local live = redis.call('ZCOUNT', KEYS[2], now - member_ttl, '+inf')
local keep_ms = math.floor(recovery + max_wait + 120000)

if op == 'shrink' or op == 'hold' then
  -- One halving per shrink_gap: the 429s of one overshoot, seen by many processes, halve once.
  -- A hold (the provider said nothing is left until a reset) only pauses.
  if op == 'shrink' and now - fat >= shrink_gap then
    factor = math.max(min_factor, factor / 2)
    redis.call('HSET', KEYS[1], 'factor', tostring(factor), 'factor_at', tostring(now))
  end
  paused = math.max(paused, now + retry_after)
  redis.call('HSET', KEYS[1], 'paused', tostring(paused))
  redis.call('PEXPIRE', KEYS[1], keep_ms)
  return {1, '0', live, tostring(factor)}
end

local per_request = rpm > 0 and 60000 / (rpm * factor) or 0
local per_token = tpm > 0 and 60000 / (tpm * factor) or 0
if per_token > 0 then
  ttat = ttat + correction * per_token
end
local start = math.max(now, paused)
local wait = start - now
if per_request > 0 then
  wait = math.max(wait, math.max(rtat, start) - burst - now)
end
if per_token > 0 then
  wait = math.max(wait, math.max(ttat, start) - burst - now)
end
local granted = 0
if wait <= max_wait then
  granted = 1
  if per_request > 0 then rtat = math.max(rtat, start) + per_request end
  if per_token > 0 then ttat = math.max(ttat, start) + tokens * per_token end
end
redis.call('HSET', KEYS[1], 'rtat', tostring(rtat), 'ttat', tostring(ttat))
redis.call('PEXPIRE', KEYS[1], keep_ms)
return {granted, tostring(math.max(0, wait)), live, tostring(factor)}
