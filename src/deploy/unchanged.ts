// Files whose copy on the host already has the same SHA-256 are not sent again. The host's
// digests come from the hashing shells, some of them asked for before the SFTP server is up
// (prefetched), the others in one pass once the target is known.

import { remoteJoiner } from '../remote/paths.js'
import { posix } from 'node:path'
import { formatDuration } from '../config/duration.js'
import type { LocalDigest } from '../local/digests.js'
import type { PlannedFile } from '../local/plan.js'
import type { RemoteHasher } from '../remote/hasher-pool.js'
import type { RemoteDigest } from '../remote/shell-protocol.js'
import { recordDone } from './progress.js'
import type { Attempt } from './types.js'

/** Files at least this large are compared by size before anyone hashes them. */
const SIZE_CHECK_FIRST = 1024 * 1024

/** Remote digests asked for by the paths under `target` as given, before the SFTP server was up. */
export interface PrefetchedDigests {
  /** The digests that have come in, by relative path. */
  readonly answers: ReadonlyMap<string, RemoteDigest>
  /** Whether the file (by relative path) was asked for: its answer comes, or has come. */
  asked(relativePath: string): boolean
  /** Resolves when every file asked for has its answer. */
  allAnswered(): Promise<void>
  /** Resolves when no more will be asked for. */
  readonly settled: Promise<void>
  /** Asks for no more. */
  abandon(): void
}

/**
 * With many small files the hashing shell starts before the SFTP server (see openSessions), and
 * the target's absolute path comes from the SFTP server. So the files a redeploy may already
 * have (all but the large ones, which are compared by size first) are hashed at once by their
 * paths under `target` as given, which the shell resolves from its working directory. One file
 * goes first: if it is not there (a new target, most likely), the others are not asked for.
 * No promise per file: there may be thousands.
 */
export function prefetchDigests(
  hasher: RemoteHasher,
  /** The target as given (not resolved): what the shell's relative paths start from. */
  target: string,
  files: readonly PlannedFile[],
  /** Called when the first file is there (or there is none to ask for). */
  onThere: () => void
): PrefetchedDigests {
  const answers = new Map<string, RemoteDigest>()
  const asked = new Set<string>()
  let abandoned = false
  let allIn: (() => void) | undefined
  let allAnswered: Promise<void> | undefined
  const underTarget = remoteJoiner(target)
  const ask = (file: PlannedFile, then?: (answer: RemoteDigest) => void): void => {
    asked.add(file.relativePath)
    // The file's path under `target` as given: what the shell resolves from its directory.
    hasher.hashInto(underTarget(file.relativePath), file.size, (answer) => {
      answers.set(file.relativePath, answer)
      if (answers.size === asked.size) allIn?.()
      then?.(answer)
    })
  }
  const [first, ...rest] = files.filter((file) => file.size < SIZE_CHECK_FIRST)
  if (first === undefined) onThere()
  const settled =
    first === undefined
      ? Promise.resolve()
      : new Promise<void>((resolve) =>
          ask(first, (answer) => {
            if (answer !== 'unreadable' && !abandoned) {
              onThere()
              if (typeof answer === 'object') for (const file of rest) ask(file)
            }
            resolve()
          })
        )
  return {
    answers,
    asked: (relativePath) => asked.has(relativePath),
    allAnswered: () =>
      answers.size === asked.size
        ? Promise.resolve()
        : (allAnswered ??= new Promise((resolve) => (allIn = resolve))),
    settled,
    abandon() {
      abandoned = true
    }
  }
}

/**
 * The prefetched digests count only for a target that was there, and only if the shells'
 * relative paths are the SFTP server's: an absolute target, or the same starting directory (an
 * SFTP server may start elsewhere, `sftp-server -d`). Where they do not, none more is asked for.
 */
export async function prefetchedThatCount(
  prefetched: PrefetchedDigests,
  hasher: RemoteHasher,
  targetIsNew: boolean,
  target: string,
  loginDirectory: string | undefined
): Promise<PrefetchedDigests | undefined> {
  if (!targetIsNew && (posix.isAbsolute(target) || loginDirectory !== undefined)) {
    await prefetched.settled
    if (posix.isAbsolute(target) || hasher.machine?.cwd === loginDirectory) return prefetched
  }
  prefetched.abandon()
  hasher.dropQueued()
  return undefined
}

type Verdict = 'same' | 'differs' | 'unavailable'

function verdict(file: PlannedFile, remote: RemoteDigest, local: LocalDigest): Verdict {
  if (remote === 'unavailable') return 'unavailable'
  if (remote === 'unreadable') return 'differs'
  return local.sha256 === remote.sha256 && local.size === file.size ? 'same' : 'differs'
}

/** One pass over the files: a verdict per file (by index), and the comparisons under way. */
interface Pass {
  readonly attempt: Attempt
  readonly hasher: RemoteHasher
  readonly files: readonly PlannedFile[]
  readonly prefetched: PrefetchedDigests | undefined
  readonly verdicts: Verdict[]
  readonly waiting: Promise<void>[]
}

function prefetchedAnswer(pass: Pass, file: PlannedFile): RemoteDigest | undefined {
  return file.size < SIZE_CHECK_FIRST ? pass.prefetched?.answers.get(file.relativePath) : undefined
}

/** Compares a file whose digests are both in at once, without a promise; false if they are not. */
function compareNow(pass: Pass, index: number): boolean {
  const file = pass.files[index] as PlannedFile
  const remote = prefetchedAnswer(pass, file)
  const local = remote === undefined ? undefined : pass.attempt.localHasher.known(file.localPath)
  if (remote === undefined || local === undefined) return false
  pass.verdicts[index] = verdict(file, remote, local)
  return true
}

/** Compares a file once its digests are in; a large file by its size first. */
function compareLater(pass: Pass, index: number): void {
  const { attempt, hasher } = pass
  const file = pass.files[index] as PlannedFile
  const comparing = async (): Promise<Verdict> => {
    const path = posix.join(attempt.base, file.relativePath)
    if (file.size >= SIZE_CHECK_FIRST) {
      const existing = await attempt.sftp.lstat(path)
      if (existing?.isFile !== true || existing.size !== file.size) return 'differs'
    }
    const answer = prefetchedAnswer(pass, file) ?? (await hasher.hash(path, file.size))
    if (answer === 'unavailable') return 'unavailable'
    return verdict(file, answer, await attempt.localHasher.digest(file.localPath, file.size))
  }
  pass.waiting.push(
    comparing().then((result) => {
      pass.verdicts[index] = result
    })
  )
}

/**
 * One pass over all of `files` through the hashing shells: the files the host has already at
 * their paths under `attempt.base`, same size and SHA-256. Undefined when the host cannot hash.
 */
export async function filesOnHost(
  attempt: Attempt,
  files: readonly PlannedFile[],
  prefetched?: PrefetchedDigests
): Promise<PlannedFile[] | undefined> {
  const { hasher } = attempt
  if (hasher === undefined) return undefined
  const verdicts = new Array<Verdict>(files.length)
  const pass: Pass = { attempt, hasher, files, prefetched, verdicts, waiting: [] }
  // The files whose prefetched answer is still to come are compared together once all have.
  const answerToCome: number[] = []
  files.forEach((file, index) => {
    if (compareNow(pass, index)) return
    if (
      file.size < SIZE_CHECK_FIRST &&
      prefetched?.asked(file.relativePath) === true &&
      !prefetched.answers.has(file.relativePath)
    )
      answerToCome.push(index)
    else compareLater(pass, index)
  })
  if (prefetched !== undefined && answerToCome.length > 0) {
    await prefetched.allAnswered()
    for (const index of answerToCome) if (!compareNow(pass, index)) compareLater(pass, index)
  }
  await Promise.all(pass.waiting)
  if (pass.verdicts.includes('unavailable')) return undefined
  return files.filter((_, index) => pass.verdicts[index] === 'same')
}

/**
 * In a target that was there, with `verify: sha256`: the files of `todo` the host has already
 * are skipped (compareAll). Returns the files still to send.
 */
export async function skipUnchanged(
  attempt: Attempt,
  todo: readonly PlannedFile[],
  prefetched: PrefetchedDigests | undefined
): Promise<readonly PlannedFile[]> {
  const { progress, log } = attempt
  if (attempt.settings.verify !== 'sha256' || attempt.targetIsNew) return todo
  const checking = Date.now()
  const same = await filesOnHost(attempt, todo, prefetched)
  for (const file of same ?? []) recordDone(progress, file, 'skipped')
  attempt.unchangedFound = same !== undefined
  const left = todo.filter((file) => !progress.done.has(file.relativePath))
  if (attempt.unchangedFound)
    log.info(
      `${progress.skipped} file(s) already up to date, ${left.length} to send (checked in ${formatDuration(Date.now() - checking)})`
    )
  return left
}
