-- The fleet state's epoch (created when the state is new), when it was created and the time
-- now, both on Redis' clock in ms; members not heard of for ARGV[2] ms leave the members set.
-- KEYS: epoch, epoch_born, members
-- ARGV: candidate epoch, forget-after ms
-- Returns {epoch, born ms ("" when unknown), now ms, generation}
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('SET', KEYS[2], now_ms)
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. (now_ms - tonumber(ARGV[2])))
return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2]) or '', tostring(now_ms)}
