// The target on the host: where it is (its absolute path, as the SFTP server sees it), whether
// this attempt made it, and, where the hashing shell logged in first, made by that shell with
// the small files streamed into it at once.

import { posix } from 'node:path'
import { DeployError, isConnectionEnded } from '../errors.js'
import { formatBytes } from '../format.js'
import type { PlannedFile } from '../local/plan.js'
import { END_LINE } from '../remote/shell-protocol.js'
import { parseTargetProbe, targetProbeScript } from '../remote/target-probe.js'
import type { SftpSession } from '../ssh/types.js'
import { removeStaging } from '../transfer/staged-publish.js'
import { streamSmallFiles } from '../transfer/tar-stream.js'
import { newStagingDir, streamJob, type ShellStream } from './tar-route.js'
import type { Attempt, Connected } from './types.js'
import { prefetchedThatCount, type PrefetchedDigests } from './unchanged.js'

/** Creates directories like `mkdir -p`, each at most once per connection. */
export function directoryMaker(sftp: SftpSession): (dir: string) => Promise<void> {
  const made = new Map<string, Promise<void>>()
  const ensureOne = async (dir: string): Promise<void> => {
    const existing = await sftp.stat(dir)
    if (existing?.isDirectory) return
    if (existing !== undefined)
      throw new DeployError('remote-failure', `'${dir}' exists on the host and is not a directory`)
    try {
      await sftp.mkdir(dir)
    } catch (error) {
      // Another writer may have created it meanwhile.
      const now = await sftp.stat(dir)
      if (now?.isDirectory) return
      if (now === undefined && error instanceof DeployError && error.kind === 'remote-failure')
        throw new DeployError(
          'no-such-path',
          `cannot create directory '${dir}': something is in the way (a dangling symbolic link?) and it still does not exist`,
          { cause: error }
        )
      throw error
    }
    const created = await sftp.stat(dir)
    if (created?.isDirectory !== true)
      throw new DeployError(
        'no-such-path',
        `directory '${dir}' does not exist after it was created`
      )
  }
  const ensure = (dir: string): Promise<void> => {
    if (dir === '/' || dir === '.' || dir === '') return Promise.resolve()
    let pending = made.get(dir)
    if (pending === undefined) {
      pending = ensure(posix.dirname(dir)).then(() => ensureOne(dir))
      made.set(dir, pending)
    }
    return pending
  }
  return ensure
}

/** What the hashing shell did at the target before the SFTP server was up. */
export interface ShellTarget {
  /** Where the shell made the target (it was not there), if it did. */
  readonly madeAt?: string
  /** The small files on their way into it. */
  readonly stream?: ShellStream
}

/**
 * Where many small files go to a target that is not there yet, the hashing shell (often logged
 * in before the SFTP server: the shell is asked for first) makes the target, says where it is
 * and how much room it has, and takes the tar stream at once, while the SFTP server, needed only
 * to publish, starts. No stream (the shell back in service) when the target is there already,
 * cannot be made, or has not the room for `needed` bytes, or where df does not say: the usual
 * checks over SFTP then run, and say what is wrong.
 */
export async function makeTargetInShell(
  connected: Connected,
  small: readonly PlannedFile[],
  needed: number
): Promise<ShellTarget> {
  const { settings, hasher, host } = connected
  const shell = await hasher?.takeShell()
  if (hasher === undefined || shell === undefined) return {}
  let made
  try {
    made = parseTargetProbe(
      await shell.channel.request(targetProbeScript(host.target), END_LINE, settings.idleTimeoutMs)
    )
  } catch (error) {
    shell.channel.close()
    if (isConnectionEnded(error)) throw error
    return {}
  }
  if (made?.freeBytes === undefined || made.freeBytes < needed) {
    hasher.giveBack(shell)
    return { madeAt: made?.base }
  }
  const stagingDir = newStagingDir(connected, made.base)
  const streamed = streamSmallFiles(
    streamJob(connected, stagingDir, small, () => Promise.resolve(shell))
  )
  // A stream that failed before it took the shell leaves it to be closed here.
  streamed.catch(() => shell.channel.close())
  return {
    madeAt: made.base,
    stream: { base: made.base, freeBytes: made.freeBytes, stagingDir, streamed }
  }
}

/**
 * Whether the SFTP server sees `target` where the hashing shell made it. Not where the SFTP
 * server starts elsewhere (`sftp-server -d`): the target is the one it sees, and the stream the
 * shell took is dropped once it is over (its staging directory removed, and the directory the
 * shell made, empty again, with it).
 */
async function sftpSeesShellTarget(
  connected: Connected,
  sftp: SftpSession,
  stream: ShellStream
): Promise<boolean> {
  const { progress, host } = connected
  const resolved = await sftp.realpath(host.target).catch(() => undefined)
  if (resolved === stream.base) return true
  connected.log.info(
    `the SFTP server does not see target ${host.target} where the shell made it (${stream.base}); dropping what the shell received`
  )
  await stream.streamed.catch(() => undefined)
  if (await removeStaging(connected.connection, sftp, stream.stagingDir))
    progress.stagingDirs.delete(stream.stagingDir)
  await sftp.rmdir(stream.base).catch(() => undefined)
  return false
}

/** The attempt, its target resolved, and what it found there. */
export interface ResolvedTarget {
  readonly attempt: Attempt
  /** The small files the hashing shell took into the target it made, as SFTP sees it. */
  readonly stream: ShellStream | undefined
  /** Prefetched digests, where they count (see prefetchedThatCount). */
  readonly prefetched: PrefetchedDigests | undefined
}

/**
 * Resolves the target once the SFTP server is up: the one the hashing shell made (and streamed
 * into), where the SFTP server sees it there; else made if it is not there, and found by its
 * absolute path. A target this attempt makes holds nothing to compare with.
 */
export async function resolveTarget(
  connected: Connected,
  sftp: SftpSession,
  shellTarget: ShellTarget,
  prefetchedDigests: PrefetchedDigests | undefined,
  bytesToSend: number
): Promise<ResolvedTarget> {
  const { settings, progress, log, hasher, host } = connected
  const { target } = host
  const ensureDir = directoryMaker(sftp)
  const attemptAt = (base: string, targetIsNew: boolean): Attempt => ({
    ...connected,
    sftp,
    ensureDir,
    base,
    targetIsNew,
    unchangedFound: targetIsNew,
    following: 0
  })
  const { stream } = shellTarget
  if (stream !== undefined && (await sftpSeesShellTarget(connected, sftp, stream))) {
    if (progress.attempts === 1) {
      log.info(`target ${target} is ${stream.base} on the host (new)`)
      if (settings.preflight)
        log.info(
          `preflight: target made, ${formatBytes(stream.freeBytes)} free, ${formatBytes(bytesToSend)} to send`
        )
    }
    return { attempt: attemptAt(stream.base, true), stream, prefetched: prefetchedDigests }
  }
  const [existing, loginDirectory] = await Promise.all([
    sftp.stat(target),
    prefetchedDigests === undefined || posix.isAbsolute(target)
      ? undefined
      : sftp.realpath('.').catch(() => undefined)
  ])
  let targetIsNew = existing === undefined
  const prefetched =
    prefetchedDigests === undefined || hasher === undefined
      ? prefetchedDigests
      : await prefetchedThatCount(prefetchedDigests, hasher, targetIsNew, target, loginDirectory)
  await ensureDir(target)
  const base = await sftp.realpath(target)
  // Where the SFTP server sees the target the shell made (and did not stream into: too little
  // room, or df did not say), it is as new.
  if (base === shellTarget.madeAt) targetIsNew = true
  // Made where the SFTP server does not see the target (`sftp-server -d`): not left behind.
  else if (shellTarget.madeAt !== undefined)
    await sftp.rmdir(shellTarget.madeAt).catch(() => undefined)
  if (progress.attempts === 1)
    log.info(`target ${target} is ${base} on the host${targetIsNew ? ' (new)' : ''}`)
  return { attempt: attemptAt(base, targetIsNew), stream: undefined, prefetched }
}
