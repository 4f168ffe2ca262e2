// The secrets of the hosts a job deploys, read once they are chosen: credentials from the
// runner's environment (`key-env`, `password-env`) or the run's inputs, and host key rules (an
// entry's own fingerprints, or the run's). Identical ones are one object, so that hosts and jump
// hosts with the same rules share them (a jump host's connection is shared only where they do).

import { InputError } from '../errors.js'
import {
  problem,
  type Candidate,
  type HostListInputs,
  type NamedCredentials,
  type Source
} from './candidate.js'
import { parseFingerprint, type HostKeyPolicy } from './host-key.js'
import { loadPrivateKey } from './private-key.js'
import type { Credentials, Destination } from './settings.js'

const NO_CREDENTIALS = "no credentials: set 'key' (or 'key-path') or 'password'"
const NO_HOST_KEYS =
  "no host key to check the servers against: set 'known-hosts' (for example the output of ssh-keyscan) or 'fingerprint'; 'insecure-ignore-host-key: true' skips the check"

/** Reads the secrets of the hosts selected and settles their credentials and host keys. */
export class Completer {
  readonly secrets: string[] = []
  // One object per distinct value, so that hosts and hops with the same rules share them (a jump
  // host's connection is shared only where they are the same).
  readonly #credentials = new Map<string, Credentials>()
  readonly #policies = new Map<string, HostKeyPolicy>()

  constructor(private readonly inputs: HostListInputs) {}

  destination(candidate: Candidate): Destination {
    const hostKeys = this.hostKeys(candidate.fingerprints, candidate.source)
    const credentials = this.credentials([candidate.own], candidate.source)
    return {
      ...candidate.endpoint,
      hostKeys,
      credentials,
      target: candidate.target,
      jump: candidate.jump.map((hop) => ({
        ...hop.endpoint,
        hostKeys: this.hostKeys(hop.fingerprints, hop.source),
        // A hop's own, else the inventory's defaults:, else the run's, else the host's.
        credentials: this.credentials([hop.own, candidate.defaults], hop.source, credentials)
      })),
      labels: candidate.labels
    }
  }

  /**
   * The first of `named` that names any credentials, else the run's, else `fallback`; an error
   * naming where to give them when there are none.
   */
  private credentials(
    named: readonly NamedCredentials[],
    source: Source,
    fallback?: Credentials
  ): Credentials {
    const own = named.find((item) => item.keyEnv !== undefined || item.passwordEnv !== undefined)
    if (own === undefined) {
      const found = this.inputs.credentials ?? fallback
      if (found !== undefined) return found
      if (source.where === '') throw new InputError('key', NO_CREDENTIALS)
      throw problem(
        source,
        "no credentials: set 'key-env' or 'password-env' (in this entry's map, or in defaults), or the 'key' or 'password' input"
      )
    }
    const id = `${own.keyEnv ?? ''}\0${own.passwordEnv ?? ''}`
    const known = this.#credentials.get(id)
    if (known !== undefined) return known
    const loaded = this.load(own, source)
    this.#credentials.set(id, loaded)
    return loaded
  }

  private load(own: NamedCredentials, source: Source): Credentials {
    const password =
      own.passwordEnv === undefined
        ? undefined
        : this.variable(own.passwordEnv, 'password-env', source)
    if (own.keyEnv === undefined)
      return { privateKey: undefined, passphrase: undefined, password, description: 'password' }
    const text = this.variable(own.keyEnv, 'key-env', source)
    let loaded
    try {
      loaded = loadPrivateKey(text, this.inputs.passphrase)
    } catch (error) {
      if (!(error instanceof InputError)) throw error
      throw problem(source, `'key-env' (${own.keyEnv}): ${error.problem}`)
    }
    this.secrets.push(...loaded.derivedSecrets)
    return {
      privateKey: loaded.key,
      passphrase: loaded.passphrase,
      password,
      description: `${loaded.type} key from ${own.keyEnv}${password === undefined ? '' : ', then password'}`
    }
  }

  private variable(name: string, field: string, source: Source): string {
    const value = this.inputs.variables[name]
    if (value === undefined || value.trim() === '')
      throw problem(
        source,
        `'${field}' names ${name}, which is not set in the runner's environment (set it from a secret with env:)`
      )
    this.secrets.push(value)
    return value
  }

  /** The endpoint's own fingerprints (with known-hosts), else the run's host key policy. */
  private hostKeys(own: readonly string[] | undefined, source: Source): HostKeyPolicy {
    if (own === undefined) {
      if (this.inputs.hostKeys !== undefined) return this.inputs.hostKeys
      if (source.where === '') throw new InputError('known-hosts', NO_HOST_KEYS)
      throw problem(
        source,
        "no host key to check it against: set its 'fingerprint', or the 'known-hosts' or 'fingerprint' input"
      )
    }
    const id = own.join(' ')
    const known = this.#policies.get(id)
    if (known !== undefined) return known
    const policy: HostKeyPolicy = {
      mode: 'verify',
      knownHosts: [...this.inputs.knownHosts],
      fingerprints: own.map((text) => {
        const fingerprint = parseFingerprint(text)
        if (fingerprint === undefined)
          throw problem(
            source,
            `'fingerprint': '${text}' is not a host key fingerprint (expected SHA256:… as 'ssh-keygen -lf' prints, or MD5 hex)`
          )
        return fingerprint
      })
    }
    this.#policies.set(id, policy)
    return policy
  }
}
