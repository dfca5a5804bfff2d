-- Extend the lock KEYS[1] to ARGV[2] milliseconds only if it still holds our token ARGV[1].
if redis.call("get", KEYS[1]) == ARGV[1] then
  return redis.call("pexpire", KEYS[1], ARGV[2])
end
return 0
