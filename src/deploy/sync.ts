// `delete`: the target kept in sync with the build. Before anything is sent, what is under the
// target is listed (over SFTP, links as links) and what this run does not deploy is found:
// files and links not in the plan, not matching `keep`, and the directories they leave empty;
// `max-delete` refuses the host there. Only once every file of the host is published are they
// removed: in one script for the host's shell where it has one (batched `rm -f`, then `rmdir`),
// else over SFTP. Nothing outside the target, nothing followed through a link, nothing of another
// run's (its temporary names and staging directories are left alone).

import { posix } from 'node:path'
import { keepRules } from '../config/keep.js'
import { DeployError, isConnectionEnded } from '../errors.js'
import type { PlannedFile } from '../local/plan.js'
import { isWorkingName } from '../remote/paths.js'
import { removalScript } from '../remote/removal.js'
import { listTree, type TreeEntry } from '../remote/tree.js'
import { runPool } from './pool.js'
import { LOCK_NAME } from './lock.js'
import type { SftpSession } from '../ssh/types.js'
import type { Attempt } from './types.js'

/** What `delete` removes from a host, relative to its target. */
export interface Extraneous {
  /** Files, links and anything else that is not a directory. */
  readonly files: readonly string[]
  /** Directories with nothing of the plan below them, deepest first. */
  readonly directories: readonly string[]
  /**
   * Symbolic links where the plan has a directory: what is behind them is not the target's to
   * sync (the host refuses a sync with one).
   */
  readonly linksInTheWay: readonly string[]
}

// Names the log shows of what was deleted; the rest go to the debug log.
const NAMES_SHOWN = 20
// Unlinks in flight where the host has no shell.
const SFTP_REMOVALS_IN_FLIGHT = 32

/** What of `entries` a sync removes, given the plan's files and the `keep` patterns. */
export function findExtraneous(
  entries: readonly TreeEntry[],
  planned: readonly PlannedFile[],
  keep: readonly string[]
): Extraneous {
  const rules = keepRules(keep)
  const wanted = new Set(planned.map((file) => file.relativePath))
  const wantedDirectories = new Set<string>()
  for (const path of wanted)
    for (let dir = posix.dirname(path); dir !== '.'; dir = posix.dirname(dir))
      wantedDirectories.add(dir)
  const files: string[] = []
  const directories: string[] = []
  const linksInTheWay: string[] = []
  for (const entry of entries) {
    // This run's or a concurrent one's working names are never deleted by a sync.
    if (isWorkingName(entry.path) || entry.path === LOCK_NAME) continue
    if (entry.kind === 'link' && wantedDirectories.has(entry.path)) {
      linksInTheWay.push(entry.path)
      continue
    }
    if (entry.kind === 'directory') {
      if (!wantedDirectories.has(entry.path) && !wanted.has(entry.path))
        if (!rules.keepsDirectory(entry.path)) directories.push(entry.path)
    } else if (!wanted.has(entry.path) && !rules.keepsFile(entry.path)) files.push(entry.path)
  }
  directories.sort((a, b) => b.split('/').length - a.split('/').length || (a < b ? -1 : 1))
  return { files, directories, linksInTheWay }
}

/**
 * Before anything is sent: what this attempt will delete once the host's files are published.
 * Throws where that is more than `max-delete`.
 */
export async function planDeletion(attempt: Attempt): Promise<Extraneous> {
  const { settings, plan, sftp, base, host } = attempt
  const extraneous = findExtraneous(await listTree(sftp, base), plan.files, settings.keep)
  const [link] = extraneous.linksInTheWay
  if (link !== undefined)
    throw new DeployError(
      'remote-failure',
      `${host.label}: '${posix.join(base, link)}' on the host is a symbolic link inside the target where this deploy has a directory: with delete, what is behind it is not the target's to sync, and nothing is written through a link there; replace it with a directory, or point target at where it leads`
    )
  const count = extraneous.files.length
  if (settings.maxDelete !== undefined && count > settings.maxDelete)
    throw new DeployError(
      'delete-limit',
      `${host.label}: delete would remove ${count} file(s) from ${base}, more than max-delete (${settings.maxDelete}); nothing was sent or deleted. Check target and keep, or raise max-delete`
    )
  return extraneous
}

/** Removes what `planDeletion` found, now that every file of the host is published. */
export async function deleteExtraneous(attempt: Attempt, extraneous: Extraneous): Promise<void> {
  const { base, log, progress } = attempt
  if (extraneous.files.length === 0 && extraneous.directories.length === 0) return
  const files = extraneous.files.map((path) => posix.join(base, path))
  const directories = extraneous.directories.map((path) => posix.join(base, path))
  if (!(await removeInShell(attempt, files, directories)))
    await removeOverSftp(attempt.sftp, files, directories)
  progress.deleted += extraneous.files.length
  log.info(
    `deleted ${extraneous.files.length} file(s) and ${extraneous.directories.length} director${extraneous.directories.length === 1 ? 'y' : 'ies'} that this deploy does not have${namesShown(extraneous.files)}`
  )
  for (const path of extraneous.files.slice(NAMES_SHOWN)) log.debug(`deleted ${path}`)
}

function namesShown(paths: readonly string[]): string {
  if (paths.length === 0) return ''
  const shown = paths.slice(0, NAMES_SHOWN).join(', ')
  return `: ${shown}${paths.length > NAMES_SHOWN ? `, and ${paths.length - NAMES_SHOWN} more (all in the debug log)` : ''}`
}

/**
 * The removal script in the host's shell. False where the host has no shell to run it (it
 * refuses commands, or what answers is not a shell): the caller goes over SFTP.
 */
async function removeInShell(
  attempt: Attempt,
  files: readonly string[],
  directories: readonly string[]
): Promise<boolean> {
  if (attempt.hasher?.unavailable === true) return false
  // A shell without rm or rmdir says so, and the files go over SFTP instead.
  const script = [
    'echo sfd-del-go',
    'command -v rm >/dev/null 2>&1 && command -v rmdir >/dev/null 2>&1 || { echo sfd-del-none; exit 0; }',
    removalScript(files, directories)
  ].join('\n')
  let result
  try {
    result = await attempt.connection.streamToCommand('sh -s', oneChunk(script))
  } catch (error) {
    if (isConnectionEnded(error)) throw error
    return false
  }
  const said = result.stdout.split('\n')
  if (!said.includes('sfd-del-go') || said.includes('sfd-del-none')) return false
  if (result.code === 0) return true
  const reason = result.stderr.trim().split('\n')[0] ?? `exit ${result.code ?? result.signal}`
  throw new DeployError(
    /Permission denied|Operation not permitted|Read-only/i.test(reason)
      ? 'permission'
      : 'remote-failure',
    `${attempt.host.label}: could not delete what this deploy does not have: ${reason}`
  )
}

async function* oneChunk(text: string): AsyncGenerator<Buffer> {
  await Promise.resolve()
  yield Buffer.from(text)
}

/**
 * Unlinks `files` (many at once; links removed, never followed; one already gone is as good as
 * removed), then removes `directories` in the order given (deepest first): one that is not
 * empty stays.
 */
export async function removeOverSftp(
  sftp: SftpSession,
  files: readonly string[],
  directories: readonly string[]
): Promise<void> {
  await runPool(files, SFTP_REMOVALS_IN_FLIGHT, async (path) => {
    await sftp.unlink(path).catch((error: unknown) => {
      if (!(error instanceof DeployError && error.kind === 'no-such-path')) throw error
    })
    return undefined
  })
  // Deepest first; one that is not empty (something new in it, say) stays.
  for (const dir of directories)
    await sftp.rmdir(dir).catch((error: unknown) => {
      if (isConnectionEnded(error)) throw error
    })
}
