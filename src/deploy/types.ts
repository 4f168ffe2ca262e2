// What one host's deploy is given (HostJob), and what the steps of one attempt at it share
// (Attempt): the job, the connection and its sessions, the target on the host.

import type { Destination, Settings } from '../config/settings.js'
import type { ChunkReader } from '../local/chunk-reader.js'
import type { LocalHasher } from '../local/digests.js'
import type { Plan } from '../local/plan.js'
import type { RemoteHasher } from '../remote/hasher-pool.js'
import type { SftpSession, SshConnection } from '../ssh/types.js'
import type { HostProgress } from './progress.js'
import type { SessionGate } from './session-gate.js'

export interface HostLog {
  info(line: string): void
  warning(line: string): void
  /** Shown only where the workflow runs with debug logging. */
  debug(line: string): void
}

/** Opens a new connection to the job's host (each attempt, and the cleanup after a failure). */
export type Connect = (signal: AbortSignal) => Promise<SshConnection>

export interface HostJob {
  readonly host: Destination
  readonly settings: Settings
  readonly plan: Plan
  readonly localHasher: LocalHasher
  /**
   * Per run and host: the names this host's files take on the server while they are written
   * (deterministic, so a retry finds its partial copy) are this host's own, apart from another
   * run's and from another host's of this run (two entries may share one login directory).
   */
  readonly hostToken: string
  readonly log: HostLog
  readonly progress: HostProgress
  /** Local file data for the whole run: read once, shared by the hosts, bounded in memory. */
  readonly reader: ChunkReader
  /** Hash large files on the host as they arrive even when the host is this machine (tests). */
  readonly followOnThisMachine: boolean
  /** Shared by the hosts of the run: each host's first session goes before their second ones. */
  readonly sessions: SessionGate
  readonly connect: Connect
}

/** An attempt whose connection is up: the job, the connection and its hashing shells. */
export interface Connected extends HostJob {
  /** The attempt's signal: the run's root, and the host's `timeout`. */
  readonly signal: AbortSignal
  readonly connection: SshConnection
  /** The hashing shells, with `verify: sha256`. */
  readonly hasher: RemoteHasher | undefined
}

/** One attempt whose SFTP session is up and whose target is resolved: what its steps share. */
export interface Attempt extends Connected {
  readonly sftp: SftpSession
  /** Creates a directory on the host like `mkdir -p`, each at most once per attempt. */
  readonly ensureDir: (dir: string) => Promise<void>
  /** The target's absolute path on the host. */
  readonly base: string
  /** This attempt made the target: nothing in it to compare with, no link in it. */
  readonly targetIsNew: boolean
  /** Unchanged files were already found in one pass: no file is compared before it is sent. */
  unchangedFound: boolean
  /** Files being hashed on the host while they are written. */
  following: number
}

/** This host's attempt under way, for the names it alone uses. */
export function attemptToken(job: HostJob): string {
  return `${job.hostToken}-${job.progress.attempts}`
}
