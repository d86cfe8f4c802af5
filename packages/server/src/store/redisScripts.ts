/*
 * The Lua scripts behind RedisStore. Each touches exactly one key, the record, so each runs on one
 * Cluster slot. A record is a hash with these fields:
 *   s  state: p (in progress), c (completed), r (released)
 *   f  fingerprint of the input
 *   t  lease token of the latest holder
 *   e  lease expiry, ms since the epoch on the Redis server's clock
 *   n  fence: grows by one with every claim, and survives release so that it never goes back
 *   o  the stored outcome (completed only)
 * Every script is safe to run twice with the same token: ioredis resends commands after a reconnect.
 */

/**
 * Check-and-claim-or-replay, in one step.
 * KEYS[1] record; ARGV[1] fingerprint; ARGV[2] lease token; ARGV[3] lease ms; ARGV[4] retention ms.
 * Replies: {1, fence} claimed; {2, retryAfterMs} another lease is live; {3} input mismatch;
 *          {4, outcome} completed, replay the outcome.
 */
export const CLAIM_SCRIPT = `
local r = redis.call('HMGET', KEYS[1], 's', 'f', 't', 'e', 'n', 'o')
local state, fence = r[1], tonumber(r[5]) or 0
if state == 'p' and r[3] == ARGV[2] then return {1, fence} end
if state and r[2] ~= ARGV[1] then return {3} end
if state == 'c' then return {4, r[6]} end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if state == 'p' then
  local expiry = tonumber(r[4])
  if expiry > now then return {2, expiry - now} end
end
fence = fence + 1
redis.call('HSET', KEYS[1], 's', 'p', 'f', ARGV[1], 't', ARGV[2], 'e', now + tonumber(ARGV[3]), 'n', fence)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {1, fence}
`;

/**
 * Store the outcome and drop the lease, in one step, if the token still holds the lease.
 * KEYS[1] record; ARGV[1] lease token; ARGV[2] outcome; ARGV[3] retention ms.
 * Replies: 1 stored (or already stored by this token); 0 the lease is not this token's.
 */
export const COMPLETE_SCRIPT = `
local r = redis.call('HMGET', KEYS[1], 's', 't')
if r[2] ~= ARGV[1] then return 0 end
if r[1] == 'c' then return 1 end
if r[1] ~= 'p' then return 0 end
redis.call('HSET', KEYS[1], 's', 'c', 'o', ARGV[2])
redis.call('HDEL', KEYS[1], 'e')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;

/**
 * Give the lease up without an outcome, so that a retry runs the handler again. The record and its
 * fence stay until retention ends.
 * KEYS[1] record; ARGV[1] lease token.
 * Replies: 1 released (or already released by this token); 0 the lease is not this token's.
 */
export const RELEASE_SCRIPT = `
local r = redis.call('HMGET', KEYS[1], 's', 't')
if r[2] ~= ARGV[1] then return 0 end
if r[1] == 'r' then return 1 end
if r[1] ~= 'p' then return 0 end
redis.call('HSET', KEYS[1], 's', 'r')
redis.call('HDEL', KEYS[1], 'e')
return 1
`;

/**
 * Extend a live holder's lease to ARGV[2] ms from now.
 * KEYS[1] record; ARGV[1] lease token; ARGV[2] lease ms.
 * Replies: 1 renewed; 0 the lease is not this token's (taken over, completed or gone).
 */
export const RENEW_LEASE_SCRIPT = `
local r = redis.call('HMGET', KEYS[1], 's', 't')
if r[1] ~= 'p' or r[2] ~= ARGV[1] then return 0 end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('HSET', KEYS[1], 'e', now + tonumber(ARGV[2]))
return 1
`;
