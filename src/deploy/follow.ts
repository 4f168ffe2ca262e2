// A large file hashed on the host as it arrives (a follower), so that its digest is ready
// moments after the last write instead of a full read later.

import { readFileSync } from 'node:fs'
import type { PlannedFile } from '../local/plan.js'
import { followInShell, followRemoteHash, type RemoteFollower } from '../remote/follower.js'
import type { Attempt } from './types.js'

/** Files at least this large may be hashed on the server while they are written... */
const FOLLOW_MIN_SIZE = 64 * 1024 * 1024
/** ...decided once this much has arrived... */
const FOLLOW_AFTER = 8 * 1024 * 1024
/** ...at most this many at once per connection, each on its own exec channel. */
const FOLLOW_CHANNELS = 2

/** One upload's follower, if it gets one. */
export interface Following {
  /** The upload's acknowledged prefix grew to `bytes`. */
  acknowledged(bytes: number): void
  /** The follower, if one was started. */
  readonly follower: Promise<RemoteFollower | undefined>
  readonly close: () => void
}

/** This machine's boot id, where it has one (Linux). */
function localBootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined
  } catch {
    return undefined
  }
}

/**
 * Whether a follower is worth it, once the hashing shells have said which machine the host is;
 * undefined until one has. Not when the host is this machine (same boot id): there the
 * server's CPUs are the client's own, and hashing alongside slows the transfer more than hashing
 * afterwards costs. Elsewhere the server's CPUs are its own.
 */
function worthFollowing(attempt: Attempt): boolean | undefined {
  const { hasher } = attempt
  if (hasher === undefined || hasher.unavailable) return false
  const machine = hasher.machine
  if (machine === undefined) return undefined
  const elsewhere = machine.bootId === undefined || machine.bootId !== localBootId()
  return attempt.following < FOLLOW_CHANNELS && (elsewhere || attempt.followOnThisMachine)
}

/**
 * Whether to hash a large file on the server while it is written (see worthFollowing), decided
 * once FOLLOW_AFTER bytes have arrived; the follower starts from there and catches up from the
 * page cache.
 */
export function followLargeFile(
  attempt: Attempt,
  file: PlannedFile,
  writePath: string,
  offset: number
): Following {
  let decided =
    attempt.settings.verify !== 'sha256' ||
    offset !== 0 ||
    file.size < FOLLOW_MIN_SIZE ||
    attempt.hasher === undefined
  let latest = 0
  let current: RemoteFollower | undefined
  let closed = false
  let follower: Promise<RemoteFollower | undefined> = Promise.resolve(undefined)
  const started = (opened: RemoteFollower | undefined): RemoteFollower | undefined => {
    if (opened === undefined || closed) {
      opened?.close()
      attempt.following -= 1
      return undefined
    }
    current = opened
    opened.advance(latest)
    attempt.log.info(`'${file.relativePath}': hashed on the host as it arrives`)
    return opened
  }
  return {
    get follower() {
      return follower
    },
    acknowledged(bytes) {
      latest = bytes
      current?.advance(bytes)
      if (decided || bytes < FOLLOW_AFTER) return
      // Until a hashing shell has said which machine the host is, the next write asks again.
      const worth = worthFollowing(attempt)
      if (worth === undefined) return
      decided = true
      if (!worth) return
      attempt.following += 1
      follower = startFollower(attempt, writePath).then(started, () => {
        // The connection failed: the upload fails with it.
        attempt.following -= 1
        return undefined
      })
    },
    close: () => {
      if (closed) return
      closed = true
      if (current === undefined) return
      current.close()
      current = undefined
      attempt.following -= 1
    }
  }
}

/**
 * A follower in an idle hashing shell, taken from the hasher and given back once it has
 * finished: no login, which on a loaded host costs more than the hashing gains. On its own
 * channel where no shell is idle or up.
 */
async function startFollower(
  attempt: Attempt,
  writePath: string
): Promise<RemoteFollower | undefined> {
  const { connection, hasher } = attempt
  const { idleTimeoutMs } = attempt.settings
  const shell = await hasher?.takeShell()
  if (hasher === undefined || shell === undefined)
    return followRemoteHash(connection, writePath, idleTimeoutMs)
  return followInShell(shell, writePath, idleTimeoutMs, (idle) => hasher.giveBack(idle))
}
