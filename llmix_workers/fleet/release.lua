-- Delete the lock KEYS[1] only if it still holds our token ARGV[1].
if redis.call("get", KEYS[1]) == ARGV[1] then
  return redis.call("del", KEYS[1])
end
return 0
