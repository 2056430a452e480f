-- Release what one call holds.
--
-- KEYS: [1] held:C, [2] thr:C, then every sem:K and res:K to leave
-- ARGV: [1] call id C
for i = 3, #KEYS do
  redis.call('ZREM', KEYS[i], ARGV[1])
end
redis.call('DEL', KEYS[1], KEYS[2])
return #KEYS - 2
