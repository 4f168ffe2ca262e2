// The hosts of a run, each with everything needed to reach it: from the `host` input and the
// `inventory`, each field taken from the host's own entry, then the inventory's `defaults:`,
// then the action's input. First every entry is checked and placed (no secret read); then
// `select` and `shard` pick this job's hosts; only for those are credentials read from the
// runner's environment (`key-env`, `password-env`: a job whose environment holds the keys of its
// own hosts alone works) and host key rules settled. Pure: the environment is passed in.

import { InputError } from '../errors.js'
import { HostListError, parseHostEntry, parseHostList, type HostTarget } from './host-list.js'
import type { HopEntry, HostFields, InventoryHost } from './inventory.js'
import type { Destination } from './settings.js'
import { parseSelect, parseShard, selectByLabels, shardSlice } from './shard.js'
import { normalizeTarget } from './target.js'
import {
  problem,
  type Candidate,
  type HopCandidate,
  type HostListInputs,
  type Source
} from './candidate.js'
import { Completer } from './host-secrets.js'

export type { HostListInputs } from './candidate.js'

export interface ResolvedHosts {
  readonly hosts: Destination[]
  /** Values read from the environment, and keys derived from them: to be masked. */
  readonly secrets: string[]
  readonly notices: string[]
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
