// What one host has done so far, kept across its attempts, and the one place that counts a file
// done or bytes sent.

import type { ReleaseProgress } from './releases/state.js'

/**
 * What a host is doing: `checking` covers the sessions, the target, the files already there and
 * the preflight; `sending` turns into `verifying` for display once every byte is sent.
 */
export type Phase =
  'connecting' | 'checking' | 'sending' | 'deleting' | 'retrying' | 'ready' | 'switching'

export interface HostProgress {
  phase: Phase
  /** `bytes` once this attempt has sent what it has to send. */
  sendGoal: number
  /** When this attempt began to send, and `bytes` then. */
  sendStart: { readonly at: number; readonly bytes: number } | undefined
  attempts: number
  bytes: number
  resumedBytes: number
  uploaded: number
  skipped: number
  /** Files and links `delete` removed. */
  deleted: number
  /** Relative paths published (or found identical) on this host. */
  readonly done: Set<string>
  /** Temporary paths this run may have left on the host (written, not yet renamed or removed). */
  readonly temporaries: Set<string>
  /** Staging directories of tar streams this run may have left on the host. */
  readonly stagingDirs: Set<string>
  /**
   * The host has corrupted a file written with several writes in flight (a hash mismatch): from
   * then on one write in flight per file, and no partial copy is continued.
   */
  parallelWritesUnsafe: boolean
  /** The log has said that the host verifies by reading back: it does not say it again. */
  readBackLogged: boolean
  /** A dry run's plan for the host, once made. */
  planned?: PlannedCounts
  /** The lock this host holds on the host (`<target>/.deploy.lock`), while it holds it. */
  lock: string | undefined
  /** With `releases`: the release this host makes (or rolls back to), once begun. */
  release?: ReleaseProgress
  /** The target's absolute path on the host, once resolved. */
  targetPath?: string
  /** `script-before` has run on the host (a retry does not run it again). */
  scriptBeforeRan?: boolean
}

/** What a deploy would do on a host (`dry-run`). */
export interface PlannedCounts {
  readonly upload: number
  readonly unchanged: number
  readonly delete: number
  /** With `releases`: the release a deploy would make (a rollback: the one it goes back to). */
  readonly release?: string
  /** With `releases`: the releases it would remove (pruned, or the one rolled back from). */
  readonly prune?: readonly string[]
}

export function createHostProgress(): HostProgress {
  return {
    phase: 'connecting',
    sendGoal: 0,
    sendStart: undefined,
    lock: undefined,
    attempts: 0,
    bytes: 0,
    resumedBytes: 0,
    uploaded: 0,
    skipped: 0,
    deleted: 0,
    done: new Set(),
    temporaries: new Set(),
    stagingDirs: new Set(),
    parallelWritesUnsafe: false,
    readBackLogged: false
  }
}

/** A file is done on this host: sent and published (`uploaded`), or found identical (`skipped`). */
export function recordDone(
  progress: HostProgress,
  file: { readonly relativePath: string },
  outcome: 'uploaded' | 'skipped'
): void {
  progress.done.add(file.relativePath)
  progress[outcome] += 1
}

/** Counts file bytes sent to this host (the server has acknowledged them). */
export function bytesCounter(progress: HostProgress): (bytes: number) => void {
  return (bytes) => {
    progress.bytes += bytes
  }
}

/** The attempt is about to send `bytes` more: they count towards its goal. */
export function startSending(progress: HostProgress, bytes: number): void {
  progress.phase = 'sending'
  progress.sendGoal = progress.bytes + bytes
  progress.sendStart = { at: Date.now(), bytes: progress.bytes }
}
