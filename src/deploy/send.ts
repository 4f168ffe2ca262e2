// The files of an attempt, each by its route: many small files as one tar stream where the host
// has a shell (and tar), symbolic links as links, the others over SFTP. The routes run at once;
// each file is published (verified, then renamed into place) as soon as it is in.

import type { PlannedFile } from '../local/plan.js'
import { TAR_MAX_FILE_SIZE, TAR_MIN_FILES } from '../transfer/tar-stream.js'
import { sendLink } from './links.js'
import { runPool } from './pool.js'
import { sendOverSftp } from './send-file.js'
import { publishShellStream, sendAsTar, type ShellStream } from './tar-route.js'
import type { Attempt } from './types.js'

/** What an attempt has to send, once unchanged files are skipped. */
export interface Sending {
  /** Files (not links) to send. */
  readonly files: readonly PlannedFile[]
  /** Symbolic links to make (`follow-symbolic-links: false`). */
  readonly links: readonly PlannedFile[]
  /** Small files the hashing shell is taking already, in a target it made (`files` has them). */
  readonly stream?: { readonly shellStream: ShellStream; readonly files: readonly PlannedFile[] }
}

/** The small files worth a tar stream: with `atomic`, up to TAR_MAX_FILE_SIZE each. */
export function smallFiles(
  attempt: Pick<Attempt, 'settings'>,
  files: readonly PlannedFile[]
): PlannedFile[] {
  return attempt.settings.atomic ? files.filter((file) => file.size <= TAR_MAX_FILE_SIZE) : []
}

/**
 * The tar route: the stream the hashing shell took, or a new one for enough small files where
 * the host has not been found unable to run our shell. Whether the host can take a tar stream
 * is not asked first: a host that cannot fails the command at once, and its files go over SFTP.
 * Returns the route's work and the files left for SFTP.
 */
function tarRoute(
  attempt: Attempt,
  sending: Sending
): { tarred: Promise<void> | undefined; overSftp: readonly PlannedFile[] } {
  const without = (tarred: readonly PlannedFile[]): PlannedFile[] => {
    const inTar = new Set(tarred)
    return sending.files.filter((file) => !inTar.has(file))
  }
  if (sending.stream !== undefined) {
    const { shellStream, files } = sending.stream
    const overSftp = without(files)
    return { tarred: publishShellStream(attempt, shellStream, files), overSftp }
  }
  const small = smallFiles(attempt, sending.files)
  if (small.length < TAR_MIN_FILES || attempt.hasher?.unavailable === true)
    return { tarred: undefined, overSftp: sending.files }
  const overSftp = without(small)
  return { tarred: sendAsTar(attempt, small), overSftp }
}

/** Sends every file by its route, all routes at once; rejects with the first failure. */
export async function send(attempt: Attempt, sending: Sending): Promise<void> {
  const { tarred, overSftp } = tarRoute(attempt, sending)
  const linked = runPool(
    sending.links,
    attempt.settings.concurrency,
    (file) => sendLink(attempt, file),
    { signal: attempt.signal }
  )
  const outcomes = await Promise.allSettled([sendOverSftp(attempt, overSftp), tarred, linked])
  const failed = outcomes.find((outcome) => outcome.status === 'rejected')
  if (failed !== undefined) throw failed.reason
}
