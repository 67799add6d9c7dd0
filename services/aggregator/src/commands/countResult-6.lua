--[[
  Counts one image into a run, atomically and at most once: a script runs alone, and it
  validates every argument before its first write, so it writes everything or nothing.

  Input:
    KEYS[1] done            set of counted image ids (the exactly-once guard)
    KEYS[2] failed          set of failed image ids
    KEYS[3] counters        the run's metric counters (hash)
    KEYS[4] class counters  the counters of ARGV[3]'s class (hash)
    KEYS[5] classes         set of labels with an ok image
    KEYS[6] images          image id -> row JSON (hash)

    ARGV[1] image id
    ARGV[2] 'ok' | 'failed'
    ARGV[3] label
    ARGV[4] row JSON
    ARGV[5] number of integer counter pairs
    ARGV[6..] integer pairs (field, increment), then float pairs (field, increment)

  - SADD done imageId; when the id was already there nothing else happens.
  - ok: HINCRBY / HINCRBYFLOAT each counter into the run's and the class's hash, SADD classes
    label, HSET images imageId row.
  - failed: SADD failed imageId, HSET images imageId row.

  Output:
    1 - counted now
    0 - counted before (a retry or a duplicate)
]]
local nInt = tonumber(ARGV[5])
if ARGV[2] ~= 'ok' and ARGV[2] ~= 'failed' then return redis.error_reply('bad status ' .. tostring(ARGV[2])) end
if nInt == nil or nInt < 0 or (#ARGV - 5) % 2 ~= 0 or 5 + 2 * nInt > #ARGV then
  return redis.error_reply('bad counter arguments')
end
local lastInt = 5 + 2 * nInt
for i = 6, #ARGV, 2 do
  local v = ARGV[i + 1]
  if i <= lastInt then
    if not string.match(v, '^%-?%d+$') then return redis.error_reply('counter ' .. ARGV[i] .. ' is not an integer: ' .. v) end
  else
    local n = tonumber(v)
    if n == nil or n ~= n or n == math.huge or n == -math.huge then
      return redis.error_reply('counter ' .. ARGV[i] .. ' is not a finite number: ' .. v)
    end
  end
end
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
if ARGV[2] == 'failed' then
  redis.call('SADD', KEYS[2], ARGV[1])
else
  for i = 6, lastInt, 2 do
    redis.call('HINCRBY', KEYS[3], ARGV[i], ARGV[i + 1])
    redis.call('HINCRBY', KEYS[4], ARGV[i], ARGV[i + 1])
  end
  for i = lastInt + 1, #ARGV, 2 do
    redis.call('HINCRBYFLOAT', KEYS[3], ARGV[i], ARGV[i + 1])
    redis.call('HINCRBYFLOAT', KEYS[4], ARGV[i], ARGV[i + 1])
  end
  redis.call('SADD', KEYS[5], ARGV[3])
end
redis.call('HSET', KEYS[6], ARGV[1], ARGV[4])
return 1
