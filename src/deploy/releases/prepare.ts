// A release made on one host, under its deploy lock: the new directory
// `<target>/releases/<name>/`, the files unchanged since the current release hard-linked from it,
// the others sent and verified there, the shared paths linked in. Nothing of the current release
// is changed, and `current` is not touched: the switch comes after (see switch.ts).

import { posix } from 'node:path'
import { isShared, type ReleaseSettings } from '../../config/releases.js'
import { DeployError, isConnectionEnded } from '../../errors.js'
import { formatDuration } from '../../config/duration.js'
import type { PlannedFile } from '../../local/plan.js'
import { quotePath } from '../../remote/shell-quote.js'
import { checkBeforeSending } from '../preflight.js'
import { runPool } from '../pool.js'
import { recordDone, startSending } from '../progress.js'
import { send } from '../send.js'
import type { Attempt } from '../types.js'
import { filesOnHost } from '../unchanged.js'
import { readHostReleases, releaseDir, RELEASES_DIR, SHARED_DIR } from './layout.js'
import type { ReleaseProgress } from './state.js'

// Hard links asked for at once over SFTP.
const LINKS_IN_FLIGHT = 64
// From this many unchanged files, they are linked by a few `cp -l` in the shell, if it can.
const BULK_MIN_FILES = 64
// Paths per `cp` command line (the script is read from stdin: no command-line limit applies).
const PATHS_PER_COMMAND = 200

/** What a release is made of: the files and links the plan has for it. */
export interface ReleaseWork {
  readonly files: readonly PlannedFile[]
  readonly links: readonly PlannedFile[]
}

/**
 * The host's releases read, and this run's release begun: on the first attempt, a name the
 * host has already is refused (a release is never overwritten); a retry continues the release
 * it made.
 */
async function beginRelease(attempt: Attempt, release: ReleaseSettings): Promise<ReleaseProgress> {
  const { sftp, base, progress, log } = attempt
  const begun = progress.release
  if (begun !== undefined) return begun
  const host = await readHostReleases(sftp, base)
  const dir = releaseDir(base, release.name)
  if (host.directories.has(release.name) || (await sftp.lstat(dir)) !== undefined)
    throw new DeployError(
      'release',
      `release ${release.name} is on the host already (${dir}): a release is never overwritten; give another release-name`
    )
  await attempt.ensureDir(posix.join(base, RELEASES_DIR))
  const state: ReleaseProgress = {
    root: base,
    name: release.name,
    previous: host.current,
    made: true,
    switched: false,
    host,
    rollback: false
  }
  // Begun before the directory is asked for: where the answer is lost, the retry continues it
  // (and a failure removes it) instead of taking it for another run's.
  progress.release = state
  try {
    await sftp.mkdir(dir)
  } catch (error) {
    if (!isConnectionEnded(error)) {
      progress.release = undefined
      state.made = false
    }
    throw error
  }
  log.info(
    `release ${release.name}: made ${dir}${host.current === undefined ? ' (the first release here)' : `; current is ${host.current}`}`
  )
  return state
}

/** The files linked, and how (for the log). */
interface Linked {
  readonly files: readonly PlannedFile[]
  readonly how: string
}

/**
 * Hard links `from/<file>` at `to/<file>` for each file: many at once by `cp -l` in the host's
 * shell; else hardlink@openssh.com, and for the files it did not link (the server lacks it, or
 * refuses it), `ln` in the shell (which copies where it cannot link). The others are sent.
 */
async function linkFiles(
  attempt: Attempt,
  files: readonly PlannedFile[],
  from: string,
  to: string
): Promise<Linked> {
  if (files.length === 0) return { files, how: 'none to link' }
  if (files.length >= BULK_MIN_FILES && (await linkInBulk(attempt, files, from, to)))
    return { files, how: 'cp -l in the shell' }
  for (const dir of new Set(files.map((file) => posix.dirname(file.relativePath))))
    await attempt.ensureDir(posix.join(to, dir))
  const refused = attempt.sftp.hasHardlink ? await linkOverSftp(attempt, files, from, to) : files
  if (refused.length === 0) return { files, how: 'hardlink@openssh.com' }
  const linked = new Set(files)
  const how = (await linkInShell(attempt, refused, from, to))
    ? `${refused.length} by ln in the shell`
    : `${refused.length} not linked: sent`
  if (how.endsWith('sent')) for (const file of refused) linked.delete(file)
  return { files: [...linked], how }
}

/**
 * Many files at once: `cp -l --parents` (GNU) in the host's shell, a few hundred paths per
 * command, so that thousands of links cost a few processes rather than a request each. False
 * where the host has no shell or its `cp` cannot (the files then go one by one: what this made
 * is found there).
 */
async function linkInBulk(
  attempt: Attempt,
  files: readonly PlannedFile[],
  from: string,
  to: string
): Promise<boolean> {
  const lines = [`cd ${quotePath(from)} || exit 2`]
  for (let start = 0; start < files.length; start += PATHS_PER_COMMAND)
    lines.push(
      `cp -l --parents -t ${quotePath(to)} -- ${files
        .slice(start, start + PATHS_PER_COMMAND)
        .map((file) => quotePath(file.relativePath))
        .join(' ')} || exit 1`
    )
  return runInShell(attempt, [...lines, 'exit 0', ''].join('\n'))
}

/** Runs `script` in the host's shell (`sh -s`): whether it exited 0 (false: no shell). */
async function runInShell(attempt: Attempt, script: string): Promise<boolean> {
  if (attempt.hasher === undefined || attempt.hasher.unavailable) return false
  try {
    const result = await attempt.connection.streamToCommand(
      'sh -s',
      (async function* () {
        await Promise.resolve()
        yield Buffer.from(script)
      })()
    )
    return result.code === 0
  } catch (error) {
    if (isConnectionEnded(error)) throw error
    return false
  }
}

/** hardlink@openssh.com for each file, many at once. Returns the files it did not link. */
async function linkOverSftp(
  attempt: Attempt,
  files: readonly PlannedFile[],
  from: string,
  to: string
): Promise<PlannedFile[]> {
  const { sftp } = attempt
  const refused: PlannedFile[] = []
  await runPool(
    files,
    LINKS_IN_FLIGHT,
    async (file) => {
      const path = posix.join(to, file.relativePath)
      await sftp
        .hardlink(posix.join(from, file.relativePath), path)
        .catch(async (error: unknown) => {
          if (isConnectionEnded(error)) throw error
          // A retry finds the links an earlier attempt made.
          if ((await sftp.lstat(path))?.isFile !== true) refused.push(file)
        })
      return undefined
    },
    { signal: attempt.signal }
  )
  return refused
}

/** `ln` (else `cp -p`) for each file, in one script for the host's shell; false where it has none. */
async function linkInShell(
  attempt: Attempt,
  files: readonly PlannedFile[],
  from: string,
  to: string
): Promise<boolean> {
  const lines = ['s=0']
  for (const file of files) {
    const source = quotePath(posix.join(from, file.relativePath))
    const path = quotePath(posix.join(to, file.relativePath))
    lines.push(`ln -f ${source} ${path} 2>/dev/null || cp -p ${source} ${path} || s=1`)
  }
  lines.push('exit $s', '')
  return runInShell(attempt, lines.join('\n'))
}

/**
 * Files unchanged since the current release (same size and SHA-256 there), linked into the new
 * one instead of sent: counted as skipped. Where the host cannot hash, every file is sent.
 */
async function linkUnchanged(
  inRelease: Attempt,
  state: ReleaseProgress,
  files: readonly PlannedFile[]
): Promise<readonly PlannedFile[]> {
  const { previous, root } = state
  if (previous === undefined || inRelease.settings.verify !== 'sha256' || files.length === 0)
    return files
  const started = Date.now()
  const from = releaseDir(root, previous)
  const same = await filesOnHost({ ...inRelease, base: from, unchangedFound: false }, files)
  if (same === undefined) {
    inRelease.log.info(`the host cannot hash: every file is sent, none linked from ${previous}`)
    return files
  }
  const { files: linked, how } = await linkFiles(inRelease, same, from, inRelease.base)
  for (const file of linked) recordDone(inRelease.progress, file, 'skipped')
  inRelease.log.info(
    `${linked.length} unchanged file(s) hard-linked from release ${previous} (${how}; checked and linked in ${formatDuration(Date.now() - started)})`
  )
  const done = new Set(linked)
  return files.filter((file) => !done.has(file))
}

/**
 * The shared paths linked into the release: `<release>/<path>` → `<target>/shared/<path>`, by a
 * relative link. A shared directory is made when missing; a missing shared file is an error.
 */
async function linkSharedPaths(
  inRelease: Attempt,
  state: ReleaseProgress,
  release: ReleaseSettings
): Promise<void> {
  const { sftp, base } = inRelease
  for (const shared of release.sharedPaths) {
    const target = posix.join(state.root, SHARED_DIR, shared.path)
    const path = posix.join(base, shared.path)
    await inRelease.ensureDir(posix.dirname(path))
    const text = posix.relative(posix.dirname(path), target)
    const there = await sftp.lstat(path)
    if (there?.isSymbolicLink === true && (await sftp.readlink(path)) === text) continue
    if (there !== undefined)
      throw new DeployError('release', `${path} is in the way of shared path ${shared.path}`)
    await sftp.symlink(text, path)
  }
  if (release.sharedPaths.length > 0)
    inRelease.log.info(
      `linked shared path(s) ${release.sharedPaths.map((shared) => shared.path).join(', ')} from ${posix.join(state.root, SHARED_DIR)}`
    )
}

/**
 * Before anything is sent: each shared path is in `<target>/shared/` (a directory made where
 * missing); a missing shared file fails the host, naming it.
 */
async function checkSharedPaths(
  attempt: Attempt,
  root: string,
  release: ReleaseSettings
): Promise<void> {
  for (const shared of release.sharedPaths) {
    const target = posix.join(root, SHARED_DIR, shared.path)
    const found = await attempt.sftp.stat(target)
    if (shared.directory) {
      if (found === undefined) await attempt.ensureDir(target)
      else if (!found.isDirectory)
        throw new DeployError('release', `shared path ${target} is not a directory`)
    } else if (found === undefined)
      throw new DeployError(
        'release',
        `shared file ${target} is missing: create it on the host (shared-paths links it into every release)`
      )
  }
}

/**
 * Makes this run's release on the host (the attempt's base is the deploy root): begun, unchanged
 * files linked, the rest sent and verified, shared paths linked. `current` stays as it is.
 */
export async function prepareRelease(
  attempt: Attempt,
  release: ReleaseSettings,
  work: ReleaseWork
): Promise<void> {
  const retry = attempt.progress.release !== undefined
  if (!retry) await checkSharedPaths(attempt, attempt.base, release)
  const state = await beginRelease(attempt, release)
  const inRelease: Attempt = {
    ...attempt,
    base: releaseDir(state.root, state.name),
    targetIsNew: !retry,
    unchangedFound: true
  }
  const shared = work.files.filter((file) => isShared(release.sharedPaths, file.relativePath))
  if (shared.length > 0 && !retry)
    attempt.log.warning(
      `${shared.length} file(s) of this deploy are under shared-paths and are not sent: the release links the shared ones (${shared
        .slice(0, 5)
        .map((file) => file.relativePath)
        .join(', ')}${shared.length > 5 ? ', …' : ''})`
    )
  const files = await linkUnchanged(
    inRelease,
    state,
    work.files.filter((file) => !isShared(release.sharedPaths, file.relativePath))
  )
  const links = work.links.filter((file) => !isShared(release.sharedPaths, file.relativePath))
  await checkBeforeSending(inRelease, [...files, ...links], false)
  startSending(
    attempt.progress,
    files.reduce((sum, file) => sum + file.size, 0)
  )
  await send(inRelease, { files, links })
  await linkSharedPaths(inRelease, state, release)
  attempt.progress.phase = 'ready'
  attempt.log.info(
    `release ${state.name} is complete and verified in ${inRelease.base}: ${attempt.progress.uploaded} file(s) sent, ${attempt.progress.skipped} linked`
  )
}
