// The hosts of a run, each with everything needed to reach it: from the `host` input and the
// `inventory`, each field taken from the host's own entry, then the inventory's `defaults:`,
// then the action's input. First every entry is checked and placed (no secret read); then
// `select` and `shard` pick this job's hosts; only for those are credentials read from the
// runner's environment (`key-env`, `password-env`: a job whose environment holds the keys of its
// own hosts alone works) and host key rules settled. Pure: the environment is passed in.

import { InputError } from '../errors.js'
import { parseFingerprint, type HostKeyPolicy } from './host-key.js'
import { HostListError, parseHostEntry, parseHostList, type HostTarget } from './host-list.js'
import type { HopEntry, HostFields, Inventory, InventoryHost } from './inventory.js'
import type { KnownHostEntry } from './known-hosts.js'
import { loadPrivateKey } from './private-key.js'
import type { Credentials, Destination } from './settings.js'
import { parseSelect, parseShard, selectByLabels, shardSlice } from './shard.js'
import { normalizeTarget } from './target.js'

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

export interface ResolvedHosts {
  readonly hosts: Destination[]
  /** Values read from the environment, and keys derived from them: to be masked. */
  readonly secrets: string[]
  readonly notices: string[]
}

const NO_CREDENTIALS = "no credentials: set 'key' (or 'key-path') or 'password'"
const NO_HOST_KEYS =
  "no host key to check the servers against: set 'known-hosts' (for example the output of ssh-keyscan) or 'fingerprint'; 'insecure-ignore-host-key: true' skips the check"

/** Where a value came from, for errors: an input, or an inventory entry. */
interface Source {
  /** The input an error names. */
  readonly input: string
  /** Prefixed to the problem: `hosts[2] (web2): ` for an inventory entry, '' for an input. */
  readonly where: string
}

function problem(source: Source, text: string): InputError {
  return new InputError(source.input, `${source.where}${text}`)
}

/** Credentials named by an entry: environment variables, read once the host is selected. */
interface NamedCredentials {
  readonly keyEnv?: string | undefined
  readonly passwordEnv?: string | undefined
}

/** A hop of a chain, placed, its secrets not read yet. */
interface HopCandidate {
  readonly endpoint: HostTarget
  readonly source: Source
  readonly fingerprints: readonly string[] | undefined
  readonly own: NamedCredentials
}

/** A host, placed and checked, its secrets not read yet. */
interface Candidate {
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

/** Places the entries of the lists: everything checked that needs no secret. */
class Placer {
  constructor(private readonly inputs: HostListInputs) {}

  /** The `host` input's entries, with the inputs' target and jump. */
  inputHosts(): Candidate[] {
    if (this.inputs.host.trim() === '') return []
    const source: Source = { input: 'host', where: '' }
    const jump = this.hops(jumpEntries(this.inputs.jump), undefined, { input: 'jump', where: '' })
    const target = this.target(undefined, source)
    return parseHostList(this.inputs.host, {
      port: this.inputs.port,
      user: this.inputs.username
    }).map((endpoint) => ({
      name: `'${endpoint.label}'`,
      source,
      endpoint,
      target,
      fingerprints: undefined,
      own: {},
      defaults: {},
      jump,
      labels: []
    }))
  }

  /** An inventory's hosts, each field its own, else `defaults:`, else the input's. */
  inventoryHost(entry: InventoryHost, defaults: HostFields): Candidate {
    const name = `hosts[${entry.index}] (${entry.entry})`
    const source: Source = { input: 'inventory', where: `${name}: ` }
    const field = <K extends keyof HostFields>(key: K): HostFields[K] => entry[key] ?? defaults[key]
    return {
      name,
      source,
      endpoint: this.endpoint(
        entry.entry,
        { user: field('user'), port: field('port') },
        source,
        entry
      ),
      target: this.target(field('target'), source),
      fingerprints: field('fingerprints'),
      own: { keyEnv: field('keyEnv'), passwordEnv: field('passwordEnv') },
      defaults: { keyEnv: defaults.keyEnv, passwordEnv: defaults.passwordEnv },
      jump: this.hops(field('jump') ?? jumpEntries(this.inputs.jump), defaults.user, {
        ...source,
        where: `${source.where}'jump': `
      }),
      labels: field('labels') ?? []
    }
  }

  /** A jump chain: each hop's own fields, else the run's (a hop without a port uses 22). */
  private hops(
    entries: readonly HopEntry[],
    defaultUser: string | undefined,
    source: Source
  ): HopCandidate[] {
    return entries.map((hop, index) => {
      const hopSource = { ...source, where: `${source.where}hop ${index + 1} (${hop.entry}): ` }
      return {
        endpoint: this.endpoint(
          hop.entry,
          { user: hop.user ?? defaultUser, port: hop.port ?? 22 },
          hopSource,
          hop
        ),
        source: hopSource,
        fingerprints: hop.fingerprints,
        own: { keyEnv: hop.keyEnv, passwordEnv: hop.passwordEnv }
      }
    })
  }

  /**
   * `[user@]host[:port]`, `fields` filling in what the text does not name; where the entry's own
   * map (`own`) names a user or port that its text contradicts, an error.
   */
  private endpoint(
    entry: string,
    fields: { user?: string | undefined; port?: number | undefined },
    source: Source,
    own: { readonly user?: string | undefined; readonly port?: number | undefined } = {}
  ): HostTarget {
    let placed: HostTarget
    try {
      placed = parseHostEntry(entry, {
        port: fields.port ?? this.inputs.port,
        user: fields.user ?? this.inputs.username
      })
    } catch (error) {
      if (!(error instanceof HostListError) || source.input === 'host') throw error
      throw problem(
        source,
        error.input === 'username'
          ? "no 'user': give it in the entry (user@host), in defaults, or the 'username' input"
          : `'host': ${error.problem}`
      )
    }
    if (own.user !== undefined && placed.user !== own.user)
      throw problem(source, `'${entry}' names the user ${placed.user}, and 'user' says ${own.user}`)
    if (own.port !== undefined && placed.port !== own.port)
      throw problem(source, `'${entry}' names the port ${placed.port}, and 'port' says ${own.port}`)
    return placed
  }

  private target(own: string | undefined, source: Source): string {
    if (own !== undefined) return normalizeTarget(own)
    if (this.inputs.target !== undefined) return this.inputs.target
    if (source.input === 'host')
      throw new InputError('target', 'is required: the remote directory to deploy to')
    throw problem(source, "no 'target': set it here, in defaults, or the 'target' input")
  }
}

/** Reads the secrets of the hosts selected and settles their credentials and host keys. */
class Completer {
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

/** `jump` input text: `[user@]host[:port]` entries separated by commas. */
function jumpEntries(text: string): HopEntry[] {
  return text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => ({ entry }))
}

/** A host's route: its jump hosts, then itself. */
function route(candidate: Candidate): string {
  return [...candidate.jump.map((hop) => hop.endpoint.label), candidate.endpoint.label]
    .join(' → ')
    .toLowerCase()
}

/** Two entries for one host by one route are an error naming both. */
function checkDuplicates(candidates: readonly Candidate[]): void {
  const seen = new Map<string, Candidate>()
  for (const candidate of candidates) {
    const earlier = seen.get(route(candidate))
    if (earlier !== undefined)
      throw new InputError(
        candidate.source.input,
        `${candidate.name} duplicates ${earlier.name} (both are ${candidate.endpoint.label}${candidate.jump.length > 0 ? ' by the same jump hosts' : ''}); list each host once`
      )
    seen.set(route(candidate), candidate)
  }
}

/**
 * One address can be two hosts, behind two bastions (private networks reuse addresses): their
 * names in logs and results then say the route.
 */
function distinctLabels(hosts: readonly Destination[]): Destination[] {
  const count = new Map<string, number>()
  for (const host of hosts) count.set(host.label, (count.get(host.label) ?? 0) + 1)
  return hosts.map((host) =>
    (count.get(host.label) ?? 0) < 2
      ? host
      : {
          ...host,
          label: `${host.label} via ${host.jump.length === 0 ? 'no jump host' : host.jump.map((hop) => hop.label).join(' → ')}`
        }
  )
}

/** The run's hosts: the `host` input's, then the inventory's; then `select`, then `shard`. */
export function resolveDestinations(inputs: HostListInputs): ResolvedHosts {
  const placer = new Placer(inputs)
  const inventory = inputs.inventory
  const all = [
    ...placer.inputHosts(),
    ...(inventory?.hosts ?? []).map((entry) =>
      placer.inventoryHost(entry, inventory?.defaults ?? {})
    )
  ]
  if (all.length === 0)
    throw new InputError(
      'host',
      inventory === undefined
        ? 'is required and names no host'
        : "names no host, and neither does the inventory's 'hosts'"
    )
  checkDuplicates(all)
  const notices: string[] = []
  let chosen = all
  const wanted = parseSelect(inputs.select)
  if (wanted.length > 0) {
    chosen = selectByLabels(all, wanted)
    if (chosen.length === 0)
      throw new InputError('select', `no host carries every one of the labels ${wanted.join(', ')}`)
  }
  if (inputs.shard.trim() !== '') {
    const shard = parseShard(inputs.shard)
    const selected = chosen.length
    chosen = shardSlice(chosen, shard)
    notices.push(
      `shard ${shard.index}/${shard.count}: ${chosen.length} of ${selected} host(s)${chosen.length === 0 ? ' (more shards than hosts: nothing for this job to deploy)' : ''}`
    )
  }
  const completer = new Completer(inputs)
  const hosts = distinctLabels(chosen.map((candidate) => completer.destination(candidate)))
  return { hosts, secrets: completer.secrets, notices }
}
