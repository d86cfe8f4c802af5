import { RECORD_STATES } from './types.js';

/*
 * The Lua scripts behind RedisStore. Each touches exactly one key, the record, so each runs on one
 * Cluster slot. A record is a hash with these fields:
 *   s  state: one of RECORD_STATES' codes (p in progress, c completed, r released)
 *   f  fingerprint of the input
 *   b  1 when a handler may have run with that input, so the key is bound to it; 0 while no handler began
 *   t  lease token of the latest holder
 *   a  when the latest holder claimed, ms since the epoch on the Redis server's clock
 *   e  lease expiry, on the same clock
 *   n  fence: grows by one with every claim, and survives release so that it never goes back
 *   o  the stored outcome (completed only)
 * Every script is safe to run twice with the same token: ioredis resends commands after a reconnect.
 * Claim replies are the names of CLAIM_STATUSES, so a reply is named once for every store.
 *
 * Completing and releasing wake the duplicates that wait for the record (docs/protocol.md §3): they publish
 * an empty message on a channel named as the record's key (channels and keys are apart in Redis), with the
 * command the store passes, PUBLISH or, on a Cluster, SPUBLISH (sharded pub/sub, Redis 7.0: the message
 * stays on the key's shard, since a sharded channel hashes to its slot as a key of that name does). It is
 * sent with redis.pcall, so a Redis that lacks the command still stores the outcome; waiters then find it
 * by their re-read. A record nobody waits for costs one PUBLISH to a channel without subscribers.
 */

const { in_progress: IN_PROGRESS, completed: COMPLETED, released: RELEASED } = RECORD_STATES;

const NOW = `local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)`;

/**
 * Check-and-claim-or-replay, in one step.
 * KEYS[1] record; ARGV[1] fingerprint; ARGV[2] lease token; ARGV[3] lease ms; ARGV[4] retention ms.
 * Replies: {'claimed', fence}; {'in_progress', leaseRemainingMs, heldForMs} another lease is live;
 *          {'mismatch'} another input; {'completed', outcome} replay the outcome.
 */
export const CLAIM_SCRIPT = `
local r = redis.call('HMGET', KEYS[1], 's', 'f', 't', 'e', 'n', 'o', 'b', 'a')
local state, fence = r[1], tonumber(r[5]) or 0
if state == '${IN_PROGRESS}' and r[3] == ARGV[2] then return {'claimed', fence} end
local anyInput = state == '${RELEASED}' and r[7] == '0'
if state and not anyInput and r[2] ~= ARGV[1] then return {'mismatch'} end
if state == '${COMPLETED}' then return {'completed', r[6]} end
${NOW}
local bound = '0'
if state == '${IN_PROGRESS}' then
  local expiry = tonumber(r[4])
  if expiry > now then return {'in_progress', expiry - now, now - (tonumber(r[8]) or now)} end
  bound = '1'
elseif state == '${RELEASED}' and not anyInput then
  bound = '1'
end
fence = fence + 1
redis.call('HSET', KEYS[1], 's', '${IN_PROGRESS}', 'f', ARGV[1], 'b', bound, 't', ARGV[2], 'a', now,
  'e', now + tonumber(ARGV[3]), 'n', fence)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {'claimed', fence}
`;

const WAKE_WAITERS = (publishArg: string) => `if ${publishArg} then redis.pcall(${publishArg}, KEYS[1], '') end`;

/**
 * Store the outcome and drop the lease, in one step, if the token still holds the lease, and wake the
 * record's waiters.
 * KEYS[1] record; ARGV[1] lease token; ARGV[2] outcome; ARGV[3] retention ms; ARGV[4] PUBLISH or SPUBLISH.
 * Replies: 1 stored (or already stored by this token); 0 the lease is not this token's.
 */
export const COMPLETE_SCRIPT = `
local r = redis.call('HMGET', KEYS[1], 's', 't')
if r[2] ~= ARGV[1] then return 0 end
if r[1] == '${COMPLETED}' then return 1 end
if r[1] ~= '${IN_PROGRESS}' then return 0 end
redis.call('HSET', KEYS[1], 's', '${COMPLETED}', 'o', ARGV[2])
redis.call('HDEL', KEYS[1], 'e')
redis.call('PEXPIRE', KEYS[1], ARGV[3])
${WAKE_WAITERS('ARGV[4]')}
return 1
`;

/**
 * Give the lease up without an outcome, so that a retry runs the handler again. The record and its
 * fence stay until retention ends. When the handler began, the key stays bound to this input. Wakes the
 * record's waiters: one of them may claim it now.
 * KEYS[1] record; ARGV[1] lease token; ARGV[2] 1 if the handler began, else 0; ARGV[3] PUBLISH or SPUBLISH.
 * Replies: 1 released (or already released by this token); 0 the lease is not this token's.
 */
export const RELEASE_SCRIPT = `
local r = redis.call('HMGET', KEYS[1], 's', 't')
if r[2] ~= ARGV[1] then return 0 end
if r[1] == '${RELEASED}' then return 1 end
if r[1] ~= '${IN_PROGRESS}' then return 0 end
redis.call('HSET', KEYS[1], 's', '${RELEASED}')
if ARGV[2] == '1' then redis.call('HSET', KEYS[1], 'b', '1') end
redis.call('HDEL', KEYS[1], 'e')
${WAKE_WAITERS('ARGV[3]')}
return 1
`;

/**
 * Extend a live holder's lease to ARGV[2] ms from now, and keep the record at least ARGV[3] ms from
 * now: a record that expired under a running holder would let the next claim start the fence at 1.
 * KEYS[1] record; ARGV[1] lease token; ARGV[2] lease ms; ARGV[3] retention ms.
 * Replies: 1 renewed; 0 the lease is not this token's (taken over, completed or gone).
 */
export const RENEW_LEASE_SCRIPT = `
local r = redis.call('HMGET', KEYS[1], 's', 't')
if r[1] ~= '${IN_PROGRESS}' or r[2] ~= ARGV[1] then return 0 end
${NOW}
redis.call('HSET', KEYS[1], 'e', now + tonumber(ARGV[2]))
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1
`;
