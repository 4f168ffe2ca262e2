// One deploy at a time per host and target: `<target>/.deploy.lock`, made whole or not at all
// before anything is written and removed when the host is done: at the end of its last
// attempt (an attempt that a retry follows keeps it, and the retry knows it by its token), by
// the cleanup after a failure, and after a cancellation. A lock another run holds is waited for
// up to `lock-wait`, then the host fails as `locked`, naming the holder, its age and how to
// clear it.

import { posix } from 'node:path'
import { formatDuration } from '../config/duration.js'
import { DeployError } from '../errors.js'
import { quotePath } from '../remote/shell-quote.js'
import type { SftpSession, SshConnection } from '../ssh/types.js'
import type { Attempt, HostJob } from './types.js'

export const LOCK_NAME = '.deploy.lock'

// A held lock is looked at again this often while it is waited for.
const LOCK_POLL_MS = 500
// What a lock file holds at most (it is read whole).
const LOCK_MAX_BYTES = 4096

/** What a lock file says. */
export interface LockRecord {
  /** The run that holds it, in words. */
  readonly holder: string
  /** The run and host that hold it: this run's next attempt takes its own lock over. */
  readonly token: string
  /** The run: two entries of one run that reach the same target share its lock. */
  readonly run: string
  /** When it was taken (ISO 8601). */
  readonly since: string
}

export function lockRecord(job: HostJob, now = new Date()): LockRecord {
  return {
    holder: job.settings.lockHolder,
    token: job.hostToken,
    run: job.hostToken.slice(0, job.hostToken.lastIndexOf('-')),
    since: now.toISOString()
  }
}

/** The lock file's text: one JSON line. */
export function lockText(record: LockRecord): string {
  return `${JSON.stringify(record)}\n`
}

/** A lock file's text read back; undefined where it is not one of ours. */
export function parseLock(text: string): LockRecord | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockRecord>
    return typeof value.holder === 'string' &&
      typeof value.token === 'string' &&
      typeof value.run === 'string' &&
      typeof value.since === 'string'
      ? { holder: value.holder, token: value.token, run: value.run, since: value.since }
      : undefined
  } catch {
    return undefined
  }
}

async function readLock(sftp: SftpSession, path: string): Promise<LockRecord | undefined> {
  const handle = await sftp.open(path, 'r').catch(() => undefined)
  if (handle === undefined) return undefined
  try {
    const buffer = Buffer.alloc(LOCK_MAX_BYTES)
    const length = await sftp.read(handle, buffer, LOCK_MAX_BYTES, 0)
    return parseLock(buffer.subarray(0, length).toString('utf8'))
  } finally {
    await sftp.close(handle).catch(() => undefined)
  }
}

/** What an attempt to make the lock came to. */
type Made = 'made' | 'held' | 'gone' | 'read-only'

/**
 * Makes the lock whole or not at all: written in full under a name of this host's own, then
 * renamed to `.deploy.lock` by SFTP's plain rename, which OpenSSH refuses where the name is
 * taken. 'held': another lock is there; 'gone': none is, yet the rename failed (the holder
 * removed it meanwhile: try again); 'read-only': nothing can be written in the target.
 */
async function makeLock(attempt: Attempt, path: string, text: string): Promise<Made> {
  const { sftp, progress } = attempt
  const own = `${path}.${attempt.hostToken}`
  let handle
  try {
    handle = await sftp.open(own, 'w', 0o644)
  } catch (error) {
    if (error instanceof DeployError && error.kind === 'permission') return 'read-only'
    throw error
  }
  progress.temporaries.add(own)
  try {
    const data = Buffer.from(text)
    await sftp.write(handle, data, data.length, 0)
  } finally {
    await sftp.close(handle)
  }
  // From here the lock may be there even where the answer is lost: the retry knows it by its token.
  progress.lock = path
  try {
    await sftp.rename(own, path)
    progress.temporaries.delete(own)
    return 'made'
  } catch (error) {
    progress.lock = undefined
    await sftp.unlink(own).catch(() => undefined)
    progress.temporaries.delete(own)
    if (!(error instanceof DeployError) || error.kind === 'connection-lost') throw error
    return (await sftp.lstat(path).catch(() => undefined)) === undefined ? 'gone' : 'held'
  }
}

/** `locked` for a lock another run holds: who, since when, and how to clear it. */
export function lockedError(
  path: string,
  held: LockRecord | undefined,
  now = Date.now(),
  modifiedMs?: number
): DeployError {
  const parsed = held === undefined ? Number.NaN : Date.parse(held.since)
  const since = Number.isNaN(parsed) ? (modifiedMs ?? Number.NaN) : parsed
  const age = Number.isNaN(since) ? '' : `, taken ${formatDuration(Math.max(0, now - since))} ago`
  const holder =
    held === undefined ? 'another deploy (the lock file does not say which)' : held.holder
  return new DeployError(
    'locked',
    `the target is locked by ${holder}${age} (${path}); if that deploy is no longer running, remove the lock on the host (rm ${quotePath(path)}) and deploy again`
  )
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', stop)
      resolve()
    }, ms)
    const stop = (): void => {
      clearTimeout(timer)
      reject(signal.reason as Error)
    }
    signal.addEventListener('abort', stop, { once: true })
  })
}

/** How taking the lock went: whether another deploy had it first, or none could be made. */
export interface TakenLock {
  /** Another deploy held it first: what was read of the target before may have changed. */
  readonly waited: boolean
  /** The target cannot be written: no lock, and nothing may be written either. */
  readonly readOnly: boolean
}

/**
 * Takes the target's lock before anything is written there: made, or already this run's (an
 * earlier attempt's), or waited for: up to `lock-wait` where another run holds it, and for as
 * long as it takes where another host entry of this run that reaches the same target does.
 */
export async function takeLock(attempt: Attempt): Promise<TakenLock> {
  const { sftp, base, settings, log, signal } = attempt
  if (!settings.lock) return { waited: false, readOnly: false }
  const path = posix.join(base, LOCK_NAME)
  const record = lockRecord(attempt)
  const waitUntil = Date.now() + settings.lockWaitMs
  let waited = false
  for (;;) {
    const made = await makeLock(attempt, path, lockText(record))
    if (made === 'made') break
    if (made === 'read-only') return { waited, readOnly: true }
    if (made === 'gone') continue
    const held = await readLock(sftp, path)
    if (held?.token === record.token) {
      attempt.progress.lock = path
      break
    }
    const sameRun = held?.run === record.run
    // A release holds its lock until the run's hosts switch together: another entry of the
    // run would wait for it for ever, and make the same release besides.
    if (sameRun && settings.releases !== undefined)
      throw new DeployError(
        'release',
        `another host entry of this run deploys a release to the same target (${base}): give each entry its own target`
      )
    if (!sameRun && Date.now() >= waitUntil) {
      const modified =
        held === undefined ? (await sftp.lstat(path).catch(() => undefined))?.mtimeMs : undefined
      throw lockedError(path, held, Date.now(), modified)
    }
    if (!waited)
      log.info(
        sameRun
          ? 'waiting for another host entry of this run that reaches the same target'
          : `waiting up to ${formatDuration(settings.lockWaitMs)} for the lock held by ${held?.holder ?? 'another deploy'}`
      )
    waited = true
    const left = sameRun ? LOCK_POLL_MS : Math.max(1, waitUntil - Date.now())
    await pause(Math.min(LOCK_POLL_MS, left), signal)
  }
  if (waited) log.info('took the lock')
  return { waited, readOnly: false }
}

/**
 * Removes the lock this host holds (over SFTP, else with `rm` in the host's shell where the
 * server bans remove). Over a new connection (`checkOwner`), only where it still is this
 * host's: a lock another run made after this one's went is left alone.
 */
export async function releaseLock(
  job: HostJob,
  sftp: SftpSession,
  connection?: SshConnection,
  checkOwner = false
): Promise<void> {
  const path = job.progress.lock
  if (path === undefined) return
  const held = checkOwner ? await readLock(sftp, path) : undefined
  if (held !== undefined && held.token !== job.hostToken) {
    job.progress.lock = undefined
    return
  }
  try {
    await sftp.unlink(path)
  } catch (error) {
    if (!(error instanceof DeployError && error.kind === 'no-such-path')) {
      const removed = await connection?.exec(`rm -f ${quotePath(path)}`).catch(() => undefined)
      if (removed?.code !== 0) throw error
    }
  }
  job.progress.lock = undefined
}
