-- A member's check, one round trip. Creates the epoch when the fleet state is new (and records
-- when, on Redis' clock); repairs a generation that went back within the epoch this member
-- holds (a Redis restored from an older snapshot); registers the member with the stamp it
-- serves under, in a key that lives ARGV[3] ms on Redis' clock (gone: its lease has run out);
-- reads the state; and takes up to ARGV[7] fleet clear results and producer answers to count.
-- KEYS: epoch, epoch_born, generation, blocked, members, member key, clear results,
--       producer answers
-- ARGV: member id, held tag and L1 entries dropped ("" for none), member TTL ms, candidate
--       epoch, held epoch ("" for none), held generation (-1 for none), items of each list to
--       take (0 for none)
-- Returns {epoch, generation, blocked (0/1), clear results taken, producer answers taken}
-- (the lists taken may be empty)
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('SET', KEYS[1], ARGV[4], 'NX') then
  redis.call('SET', KEYS[2], now_ms)
end
local epoch = redis.call('GET', KEYS[1])
local generation = tonumber(redis.call('GET', KEYS[3]) or '0')
local held = tonumber(ARGV[6])
if epoch == ARGV[5] and held > generation then
  redis.call('SET', KEYS[3], held)
  generation = held
end
redis.call('ZADD', KEYS[5], now_ms, ARGV[1])
redis.call('SET', KEYS[6], ARGV[2], 'PX', ARGV[3])
local taken, answers = {}, {}
if tonumber(ARGV[7]) > 0 then
  taken = redis.call('LPOP', KEYS[7], ARGV[7]) or {}
  answers = redis.call('LPOP', KEYS[8], ARGV[7]) or {}
end
return {epoch, tostring(generation), redis.call('EXISTS', KEYS[4]), taken, answers}
