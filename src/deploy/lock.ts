// One deploy at a time per host and target: `<target>/.deploy.lock`, made with an exclusive
// create before anything is written and removed when the attempt ends (after a failure too, and
// on cancellation while the connection is up; else by the cleanup after a failure, or by this
// run's next attempt, which knows its own lock). A lock another run holds is waited for up to
// `lock-wait`, then the host fails as `locked`, naming the holder, its age and how to clear it.

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

/**
 * Makes the lock file: 'made', 'held' where one is there already, or 'read-only' where the
 * target cannot be written at all (no lock is needed to write nothing).
 */
async function createLock(
  sftp: SftpSession,
  path: string,
  text: string
): Promise<'made' | 'held' | 'read-only'> {
  let handle
  try {
    handle = await sftp.open(path, 'wx', 0o644)
  } catch (error) {
    // OpenSSH's SFTP server answers an exclusive create of an existing file with a plain
    // failure: whether the file is there says which it was.
    if ((await sftp.lstat(path).catch(() => undefined)) !== undefined) return 'held'
    if (error instanceof DeployError && error.kind === 'permission') return 'read-only'
    throw error
  }
  try {
    const data = Buffer.from(text)
    await sftp.write(handle, data, data.length, 0)
  } finally {
    await sftp.close(handle)
  }
  return 'made'
}

/** `locked` for a lock another run holds: who, since when, and how to clear it. */
export function lockedError(
  path: string,
  held: LockRecord | undefined,
  now = Date.now()
): DeployError {
  const since = held === undefined ? Number.NaN : Date.parse(held.since)
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

/**
 * Takes the target's lock before anything is written: made, or already this run's (an earlier
 * attempt's, whose connection was cut), or waited for up to `lock-wait`.
 */
export async function takeLock(attempt: Attempt): Promise<void> {
  const { sftp, base, settings, progress, log, signal } = attempt
  if (!settings.lock) return
  const path = posix.join(base, LOCK_NAME)
  const record = lockRecord(attempt)
  const waitUntil = Date.now() + settings.lockWaitMs
  let waited = false
  for (;;) {
    const made = await createLock(sftp, path, lockText(record))
    if (made === 'made') break
    if (made === 'read-only') {
      // Nothing can be written there: the preflight says so if anything needs to be.
      log.info(`target ${base} is not writable: no lock taken`)
      return
    }
    const held = await readLock(sftp, path)
    if (held?.token === record.token) break
    if (held?.run === record.run) {
      // Another entry of this run reaches the same target: its lock, its to remove.
      log.info('the target is locked by another host entry of this run that reaches it too')
      return
    }
    if (Date.now() >= waitUntil) throw lockedError(path, held)
    if (!waited)
      log.info(
        `waiting up to ${formatDuration(settings.lockWaitMs)} for the lock held by ${held?.holder ?? 'another deploy'}`
      )
    waited = true
    await pause(Math.min(LOCK_POLL_MS, Math.max(1, waitUntil - Date.now())), signal)
  }
  progress.lock = path
  if (waited) log.info('took the lock')
}

/**
 * Removes the lock this host holds: over SFTP, else (a server that bans remove) with `rm` in the
 * host's shell. No other run can have made it meanwhile: an exclusive create fails while this
 * one is there.
 */
export async function releaseLock(
  job: HostJob,
  sftp: SftpSession,
  connection?: SshConnection
): Promise<void> {
  const path = job.progress.lock
  if (path === undefined) return
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
