-- Reset a fleet lock's TTL only if this holder still owns it. KEYS: lock; ARGV: token, TTL ms.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
