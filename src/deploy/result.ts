// What one host's deploy came to, as the outputs and the summary report it.

import type { ErrorKind } from '../errors.js'
import type { Destination } from '../config/settings.js'
import type { PlannedCounts } from './progress.js'

export const HOST_STATUSES = ['success', 'failed', 'skipped', 'planned', 'held'] as const
export type HostStatus = (typeof HOST_STATUSES)[number]

export interface HostResult {
  /** `user@host:port`. */
  readonly host: string
  readonly status: HostStatus
  /** Files matched for this host. */
  readonly files: number
  /** Files sent and verified. */
  readonly uploaded: number
  /** Files already identical on the host, not sent. */
  readonly skipped: number
  /** Files and links `delete` removed from the host. */
  readonly deleted: number
  /** File bytes sent to this host (acknowledged by it), resent bytes included. */
  readonly bytes: number
  /** Bytes not sent again because a retry continued an earlier attempt's partial copy. */
  readonly resumedBytes: number
  readonly attempts: number
  readonly durationMs: number
  /** One line, when failed or skipped. */
  readonly error?: string
  /** What kind of failure (`host-key`, `auth`, `network`, `disk-full`, …), when failed. */
  readonly errorClass?: ErrorKind
  /** The jump hosts the host was reached through, first to last; absent for a direct host. */
  readonly jump?: readonly string[]
  /** A dry run's plan for the host: files to upload, unchanged, to delete. */
  readonly planned?: PlannedCounts
  /** With `releases`: the release `current` was to point to (a rollback's: the one gone back to). */
  readonly release?: string | null
  /** With `releases`: the release `current` pointed to before; null where there was none. */
  readonly previousRelease?: string | null
  /** With `releases`: whether `current` points to `release` now. */
  readonly switched?: boolean
  /** The host's batch, 1-based (one batch: 1). */
  readonly batch?: number
  /** When the host's deploy began and ended (ISO 8601). */
  readonly startedAt?: string
  readonly finishedAt?: string
  /** Its `script-after` or health check failed, and it was switched back to its previous release. */
  readonly rolledBack?: boolean
}

/** The jump hosts a host is reached through, as results name them; none for a direct host. */
export function jumpOf(host: Destination): Pick<HostResult, 'jump'> {
  return host.jump.length === 0 ? {} : { jump: host.jump.map((hop) => hop.label) }
}

/**
 * `result` with its host's jump chain, where it has none yet: a host that was not attempted
 * (cancelled, or a rollout that stopped) is named with its route too.
 */
export function withJump(result: HostResult, host: Destination): HostResult {
  return result.jump === undefined ? { ...result, ...jumpOf(host) } : result
}

/** A host that was not contacted: the run was cancelled first, or there was nothing to send. */
export function notAttempted(host: string, files: number, reason: string): HostResult {
  return {
    host,
    status: 'skipped',
    files,
    uploaded: 0,
    skipped: 0,
    deleted: 0,
    bytes: 0,
    resumedBytes: 0,
    attempts: 0,
    durationMs: 0,
    error: reason
  }
}
