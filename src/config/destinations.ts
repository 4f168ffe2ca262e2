// The hosts of a run, each with everything needed to reach it: from the `host` input and the
// `inventory`, each field taken from the host's own entry, then the inventory's `defaults:`,
// then the action's input; then `select` and `shard` pick this job's hosts. Credentials named by
// `key-env` / `password-env` are read from the runner's environment and returned as secrets to
// mask. Pure: the environment is passed in.

import { InputError } from '../errors.js'
import { normalizeTarget } from '../remote/paths.js'
import { parseFingerprint, type HostKeyPolicy } from './host-key.js'
import { HostListError, parseHostEntry, parseHostList, type HostTarget } from './host-list.js'
import type { HopEntry, HostFields, Inventory, InventoryHost } from './inventory.js'
import type { KnownHostEntry } from './known-hosts.js'
import { loadPrivateKey } from './private-key.js'
import type { Credentials, Destination, Endpoint } from './settings.js'
import { parseSelect, parseShard, selectByLabels, shardSlice } from './shard.js'

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

class Resolver {
  readonly secrets: string[] = []
  private readonly keys = new Map<string, Credentials>()

  constructor(private readonly inputs: HostListInputs) {}

  /** The `host` input's entries, with the inputs' target, jump, credentials and host keys. */
  inputHosts(): Destination[] {
    if (this.inputs.host.trim() === '') return []
    const source: Source = { input: 'host', where: '' }
    const jump = this.hops(jumpEntries(this.inputs.jump), {}, { input: 'jump', where: '' })
    return parseHostList(this.inputs.host, {
      port: this.inputs.port,
      user: this.inputs.username
    }).map((host) => ({
      ...host,
      hostKeys: this.hostKeys(undefined, { input: 'known-hosts', where: '' }),
      credentials: this.credentials({}, { input: 'key', where: '' }),
      target: this.target(undefined, source),
      jump,
      labels: []
    }))
  }

  /** The inventory's hosts, each field its own, else `defaults:`, else the input's. */
  inventoryHosts(inventory: Inventory): Destination[] {
    return inventory.hosts.map((entry) => this.inventoryHost(entry, inventory.defaults))
  }

  private inventoryHost(entry: InventoryHost, defaults: HostFields): Destination {
    const source: Source = { input: 'inventory', where: `hosts[${entry.index}] (${entry.entry}): ` }
    const field = <K extends keyof HostFields>(name: K): HostFields[K] =>
      entry[name] ?? defaults[name]
    const host = this.endpoint(entry.entry, { user: field('user'), port: field('port') }, source)
    const own = { keyEnv: field('keyEnv'), passwordEnv: field('passwordEnv') }
    const jumpSource: Source = { ...source, where: `${source.where}'jump': ` }
    return {
      ...host,
      hostKeys: this.hostKeys(field('fingerprints'), source),
      credentials: this.credentials(own, source),
      target: this.target(field('target'), source),
      jump: this.hops(
        field('jump') ?? jumpEntries(this.inputs.jump),
        { user: defaults.user },
        jumpSource
      ),
      labels: field('labels') ?? []
    }
  }

  /** A jump chain: each hop's own fields, else the run's (a hop without a port uses 22). */
  private hops(
    entries: readonly HopEntry[],
    defaults: { user?: string },
    source: Source
  ): Endpoint[] {
    return entries.map((hop, index) => {
      const hopSource: Source = {
        ...source,
        where: `${source.where}hop ${index + 1} (${hop.entry}): `
      }
      const target = this.endpoint(
        hop.entry,
        { user: hop.user ?? defaults.user, port: hop.port ?? 22 },
        hopSource
      )
      return {
        ...target,
        hostKeys: this.hostKeys(hop.fingerprints, hopSource),
        credentials: this.credentials(hop, hopSource)
      }
    })
  }

  /** `[user@]host[:port]`, the entry's own user and port first. */
  private endpoint(
    entry: string,
    fields: { user?: string | undefined; port?: number | undefined },
    source: Source
  ): HostTarget {
    try {
      return parseHostEntry(entry, {
        port: fields.port ?? this.inputs.port,
        user: fields.user ?? this.inputs.username
      })
    } catch (error) {
      if (!(error instanceof HostListError) || source.input === 'host') throw error
      const what =
        error.input === 'username'
          ? "no 'user': set it here, in defaults, or the 'username' input"
          : `'host': ${error.problem}`
      throw problem(source, what)
    }
  }

  private target(own: string | undefined, source: Source): string {
    if (own !== undefined) {
      if (own.includes('\0')) throw problem(source, "'target' must not contain NUL characters")
      return normalizeTarget(own)
    }
    if (this.inputs.target !== undefined) return this.inputs.target
    if (source.input === 'host')
      throw new InputError('target', 'is required: the remote directory to deploy to')
    throw problem(source, "no 'target': set it here, in defaults, or the 'target' input")
  }

  /** The endpoint's own credentials (`key-env`, `password-env`), else the run's. */
  private credentials(
    own: { readonly keyEnv?: string | undefined; readonly passwordEnv?: string | undefined },
    source: Source
  ): Credentials {
    if (own.keyEnv === undefined && own.passwordEnv === undefined) {
      if (this.inputs.credentials !== undefined) return this.inputs.credentials
      if (source.where === '') throw new InputError('key', NO_CREDENTIALS)
      throw problem(
        source,
        "no credentials: set 'key-env' or 'password-env' here or in defaults, or the 'key' or 'password' input"
      )
    }
    const password =
      own.passwordEnv === undefined
        ? undefined
        : this.variable(own.passwordEnv, 'password-env', source)
    if (own.keyEnv === undefined)
      return { privateKey: undefined, passphrase: undefined, password, description: 'password' }
    const key = this.key(own.keyEnv, source)
    return {
      ...key,
      password,
      description: `${key.description}${password === undefined ? '' : ', then password'}`
    }
  }

  /** The key in environment variable `name`, loaded once however many entries name it. */
  private key(name: string, source: Source): Credentials {
    const known = this.keys.get(name)
    if (known !== undefined) return known
    const text = this.variable(name, 'key-env', source)
    let loaded
    try {
      loaded = loadPrivateKey(text, this.inputs.passphrase)
    } catch (error) {
      if (!(error instanceof InputError)) throw error
      throw problem(source, `'key-env' (${name}): ${error.problem}`)
    }
    this.secrets.push(...loaded.derivedSecrets)
    const credentials: Credentials = {
      privateKey: loaded.key,
      passphrase: loaded.passphrase,
      password: undefined,
      description: `${loaded.type} key from ${name}`
    }
    this.keys.set(name, credentials)
    return credentials
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
    if (own !== undefined)
      return {
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
    if (this.inputs.hostKeys !== undefined) return this.inputs.hostKeys
    if (source.where === '') throw new InputError('known-hosts', NO_HOST_KEYS)
    throw problem(
      source,
      "no host key to check it against: set its 'fingerprint', or the 'known-hosts' or 'fingerprint' input"
    )
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

/** Two entries for one host (the same `user@host:port`) are an error naming both. */
function checkDuplicates(hosts: readonly Destination[], names: readonly string[]): void {
  const seen = new Map<string, string>()
  hosts.forEach((host, index) => {
    const key = host.label.toLowerCase()
    const earlier = seen.get(key)
    const name = names[index] ?? host.label
    if (earlier !== undefined) {
      const input = name.startsWith('hosts[') ? 'inventory' : 'host'
      throw new InputError(
        input,
        `${name} duplicates ${earlier} (both are ${host.label}); list each host once`
      )
    }
    seen.set(key, name)
  })
}

/** The run's hosts: the `host` input's, then the inventory's; then `select`, then `shard`. */
export function resolveDestinations(inputs: HostListInputs): ResolvedHosts {
  const resolver = new Resolver(inputs)
  const fromInput = resolver.inputHosts()
  const fromInventory =
    inputs.inventory === undefined ? [] : resolver.inventoryHosts(inputs.inventory)
  const all = [...fromInput, ...fromInventory]
  if (all.length === 0)
    throw new InputError(
      'host',
      inputs.inventory === undefined
        ? 'is required and names no host'
        : "names no host, and neither does the inventory's 'hosts'"
    )
  checkDuplicates(all, [
    ...fromInput.map((host) => `'${host.label}'`),
    ...(inputs.inventory?.hosts ?? []).map((entry) => `hosts[${entry.index}] (${entry.entry})`)
  ])
  const notices: string[] = []
  let hosts = all
  const wanted = parseSelect(inputs.select)
  if (wanted.length > 0) {
    hosts = selectByLabels(all, wanted)
    if (hosts.length === 0)
      throw new InputError('select', `no host carries every one of the labels ${wanted.join(', ')}`)
  }
  if (inputs.shard.trim() !== '') {
    const shard = parseShard(inputs.shard)
    const selected = hosts.length
    hosts = shardSlice(hosts, shard)
    notices.push(
      `shard ${shard.index}/${shard.count}: ${hosts.length} of ${selected} host(s)${hosts.length === 0 ? ' (more shards than hosts: nothing for this job to deploy)' : ''}`
    )
  }
  return { hosts, secrets: resolver.secrets, notices }
}
