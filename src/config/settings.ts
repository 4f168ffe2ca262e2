// The run's settings: every input read, validated and typed (by action/inputs.ts), in the form
// the engine takes them.

import type { HostKeyPolicy } from './host-key.js'
import type { HostTarget } from './host-list.js'
import type { ReleaseSettings } from './releases.js'
import type { RolloutSettings } from './rollout.js'

export const VERIFY_MODES = ['sha256', 'size', 'none'] as const
export type VerifyMode = (typeof VERIFY_MODES)[number]

export const NO_FILES_MODES = ['error', 'warn', 'ignore'] as const
export type NoFilesMode = (typeof NO_FILES_MODES)[number]

/** The `threads` input: `auto`, or at most this many. */
export type ThreadsSetting = 'auto' | number

/** A private key (OpenSSH or PEM text) and the passphrase that opens it, if any. */
export interface KeyToTry {
  readonly key: string
  readonly passphrase: string | undefined
}

export interface Credentials {
  readonly privateKey: string | undefined
  readonly passphrase: string | undefined
  /** Keys tried in turn after `privateKey`, as OpenSSH tries each identity file. */
  readonly moreKeys?: readonly KeyToTry[]
  readonly password: string | undefined
  /** An ssh-agent's socket (the command line's SSH_AUTH_SOCK), tried before the key. */
  readonly agent?: string
  /** e.g. `ssh-ed25519 key`, `password`: for the log. */
  readonly description: string
}

/** One machine to connect to, and how: a host to deploy to, or a jump host on the way. */
export interface Endpoint extends HostTarget {
  readonly credentials: Credentials
  readonly hostKeys: HostKeyPolicy
}

/** A host to deploy to: where, reached how, labelled what. */
export interface Destination extends Endpoint {
  /** The remote directory, normalized (see normalizeTarget). */
  readonly target: string
  /** Jump hosts: the first reached directly, each next one (and the host) through the one before. */
  readonly jump: readonly Endpoint[]
  readonly labels: readonly string[]
}

export interface Settings {
  /** The hosts this job deploys (after `select` and `shard`), in input order. */
  readonly hosts: readonly Destination[]
  /** How the run authenticates where a host does not say (for the log). */
  readonly authDescription: string
  /** Why `hosts` may be shorter than the list: a shard with no host, say. */
  readonly notices: readonly string[]
  readonly connectTimeoutMs: number
  readonly timeoutMs: number
  readonly patterns: readonly string[]
  /** Absolute. */
  readonly workingDirectory: string
  readonly stripComponents: number
  readonly ifNoFilesFound: NoFilesMode
  readonly followSymbolicLinks: boolean
  readonly maxParallel: number
  readonly concurrency: number
  /** One deploy at a time per host and target: a lock file in the target, taken first. */
  readonly lock: boolean
  /** How long a held lock is waited for before the host fails as `locked`. */
  readonly lockWaitMs: number
  /** This run, as a lock it holds names it to another run (repository, run, runner). */
  readonly lockHolder: string
  /** Threads that deploy the hosts: `auto` (the runner's cores) or at most this many. */
  readonly threads: ThreadsSetting
  readonly retries: number
  readonly retryDelayMs: number
  readonly verify: VerifyMode
  readonly atomic: boolean
  /** A retry continues a file's temporary copy from the bytes the server already holds. */
  readonly resume: boolean
  /** An attempt that moves no bytes for this long is aborted (and retried). */
  readonly idleTimeoutMs: number
  readonly keepaliveIntervalMs: number
  /** Check auth, a writable target and free space before sending anything. */
  readonly preflight: boolean
  /** After a host's files are published: remove under target what this run did not deploy. */
  readonly delete: boolean
  /** Glob patterns relative to target that `delete` never touches. */
  readonly keep: readonly string[]
  /** A host where `delete` would remove more files than this fails before anything is sent. */
  readonly maxDelete: number | undefined
  /** Connect, check, and report each host's plan; write nothing. */
  readonly dryRun: boolean
  /** `releases: true`: each run fills a new release directory and switches `current` to it. */
  readonly releases: ReleaseSettings | undefined
  /** Batches, scripts before and after, health checks. */
  readonly rollout: RolloutSettings
  /** Values derived from secrets that must be masked too (a converted key, say). */
  readonly derivedSecrets: readonly string[]
  readonly warnings: readonly string[]
}
