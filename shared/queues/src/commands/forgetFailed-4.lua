--[[
  Forgets failed images of a run so that they can be counted again (`--retry-failed`), atomically:
  an image is forgotten only while it is counted as failed, never an ok one, so a retry never
  uncounts a success and each image is counted again exactly once.

  Input:
    KEYS[1] done      set of counted image ids
    KEYS[2] failed    set of failed image ids
    KEYS[3] images    image id -> row JSON (hash)
    KEYS[4] meta      the run's meta hash

    ARGV[1..] image ids

  - For each id in `failed`: SREM done, SREM failed, HDEL images.
  - When any was forgotten, the run is running again: status = running, and the fields of the last
    report (reportedDone, completedAt, reportKey) are removed, so a new report is written once the
    retried images are counted.

  Output:
    the number of images forgotten
]]
local n = 0
for i = 1, #ARGV do
  if redis.call('SREM', KEYS[2], ARGV[i]) == 1 then
    redis.call('SREM', KEYS[1], ARGV[i])
    redis.call('HDEL', KEYS[3], ARGV[i])
    n = n + 1
  end
end
if n > 0 and redis.call('EXISTS', KEYS[4]) == 1 then
  redis.call('HSET', KEYS[4], 'status', 'running')
  redis.call('HDEL', KEYS[4], 'reportedDone', 'completedAt', 'reportKey')
end
return n
