// A host or a jump host as the lists give it, placed and checked before any secret is read,
// and what resolving the lists takes: shared by destinations.ts (placing, choosing) and
// host-secrets.ts (reading credentials, settling host key rules).

import { InputError } from '../errors.js'
import type { HostKeyPolicy } from './host-key.js'
import type { HostTarget } from './host-list.js'
import type { Inventory } from './inventory.js'
import type { KnownHostEntry } from './known-hosts.js'
import type { Credentials } from './settings.js'

export interface HostListInputs {
  /** The `host` input's text ('' for none). */
  readonly host: string
  readonly port: number
  readonly username: string | undefined
  /** The `target` input, normalized; undefined when empty. */
  readonly target: string | undefined
  /** The `jump` input's text. */
  readonly jump: string
  readonly select: string
  readonly shard: string
  readonly inventory: Inventory | undefined
  /** The run's credentials (`key`, `key-path`, `password`); undefined when none is set. */
  readonly credentials: Credentials | undefined
  /** The run's host key policy; undefined when neither `known-hosts` nor `fingerprint` is set. */
  readonly hostKeys: HostKeyPolicy | undefined
  readonly knownHosts: readonly KnownHostEntry[]
  readonly passphrase: string | undefined
  /** The runner's environment, for `key-env` and `password-env`. */
  readonly variables: Readonly<Record<string, string | undefined>>
}

/** Where a value came from, for errors: an input, or an inventory entry. */
export interface Source {
  /** The input an error names. */
  readonly input: string
  /** Prefixed to the problem: `hosts[2] (web2): ` for an inventory entry, '' for an input. */
  readonly where: string
}

export function problem(source: Source, text: string): InputError {
  return new InputError(source.input, `${source.where}${text}`)
}

/** Credentials named by an entry: environment variables, read once the host is selected. */
export interface NamedCredentials {
  readonly keyEnv?: string | undefined
  readonly passwordEnv?: string | undefined
}

/** A hop of a chain, placed, its secrets not read yet. */
export interface HopCandidate {
  readonly endpoint: HostTarget
  readonly source: Source
  readonly fingerprints: readonly string[] | undefined
  readonly own: NamedCredentials
}

/** A host, placed and checked, its secrets not read yet. */
export interface Candidate {
  /** How errors name it: `'user@host:port'`, or `hosts[N] (entry)`. */
  readonly name: string
  readonly source: Source
  readonly endpoint: HostTarget
  readonly target: string
  readonly fingerprints: readonly string[] | undefined
  readonly own: NamedCredentials
  /** The inventory's `defaults:` credentials, which a hop without its own takes first. */
  readonly defaults: NamedCredentials
  readonly jump: readonly HopCandidate[]
  readonly labels: readonly string[]
}
