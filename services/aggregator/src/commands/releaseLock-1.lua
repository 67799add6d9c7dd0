--[[
  Frees a lock only while its holder still owns it: a holder that outlived the lock's expiry
  must not delete the lock another process has taken since.

  Input:
    KEYS[1] lock key
    ARGV[1] the holder's token (the value it set with SET NX PX)

  Output:
    1 - released
    0 - not held by this token (expired, or taken by another holder)
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
