// The action's inputs by name (action.yml declares the same), which of them are secrets, and
// what reading them needs from the runner.

import type { PathFlavor } from '../local/plan.js'

export const INPUT_NAMES = [
  'host',
  'port',
  'username',
  'key',
  'key-path',
  'passphrase',
  'password',
  'known-hosts',
  'fingerprint',
  'insecure-ignore-host-key',
  'connect-timeout',
  'timeout',
  'source',
  'working-directory',
  'target',
  'strip-components',
  'if-no-files-found',
  'follow-symbolic-links',
  'max-parallel',
  'concurrency',
  'threads',
  'retries',
  'retry-delay',
  'verify',
  'atomic',
  'resume',
  'idle-timeout',
  'keepalive-interval',
  'preflight',
  'inventory',
  'select',
  'shard',
  'jump',
  'delete',
  'keep',
  'max-delete',
  'dry-run',
  'lock',
  'lock-wait',
  'releases',
  'release-name',
  'keep-releases',
  'shared-paths',
  'switch',
  'rollback',
  'batch-size',
  'batch-pause',
  'max-failures',
  'script-before',
  'script-after',
  'script-env',
  'script-timeout',
  'health-check',
  'health-check-url',
  'health-check-attempts',
  'health-check-interval',
  'rollback-on-failure'
] as const
export type InputName = (typeof INPUT_NAMES)[number]

/** Inputs whose values are secrets, masked before anything is logged. */
export const SECRET_INPUTS = ['key', 'passphrase', 'password'] as const

export interface InputEnvironment {
  /** Where relative paths (`working-directory`, `key-path`, `inventory`) start: the workspace. */
  readonly workspace: string
  readonly readFile: (path: string) => string
  /** The runner's environment variables, for an inventory's `key-env` and `password-env`. */
  readonly variables: Readonly<Record<string, string | undefined>>
  /**
   * An ssh-agent's socket, tried before the run's key (the command line passes SSH_AUTH_SOCK
   * where no key or password is given; the action never does).
   */
  readonly agent?: string
  /**
   * Key files tried in turn where neither `key` nor `key-path` is given, as OpenSSH tries each
   * identity: the command line's `~/.ssh/id_*` (the action never passes any).
   */
  readonly keyFiles?: readonly string[]
  /** The runner's path rules: node:path's, unless a test gives path.win32. */
  readonly path?: PathFlavor
  /** Now, for a release named by the time (tests give one). */
  readonly now?: Date
}

/** `(name) => value`: trimmed text, '' when unset (as @actions/core's getInput). */
export type InputReader = (name: InputName) => string
