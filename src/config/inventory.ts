// The `inventory` input: YAML or JSON (`defaults:` and `hosts:`), read with `yaml` and checked
// field by field. Every error names the entry (`hosts[N]`, 1-based, with its host) and the field,
// and an unknown field is an error: a typo must not deploy somewhere else. Pure: what the fields
// mean for a run (precedence, credentials, host keys) is action/inputs.ts's.

import { isSeq, parseDocument, type YAMLError } from 'yaml'
import { InputError } from '../errors.js'
import { parsePort } from './host-list.js'

/** A jump host as the inventory gives it: `[user@]host[:port]`, or a map. */
export interface HopEntry {
  /** `[user@]host[:port]` as written (a map's fields are joined into it). */
  readonly entry: string
  readonly user?: string
  readonly port?: number
  readonly fingerprints?: readonly string[]
  readonly keyEnv?: string
  readonly passwordEnv?: string
}

/** The fields a host entry, and `defaults:`, may set. */
export interface HostFields {
  readonly user?: string
  readonly port?: number
  readonly target?: string
  readonly jump?: readonly HopEntry[]
  readonly fingerprints?: readonly string[]
  readonly keyEnv?: string
  readonly passwordEnv?: string
  readonly labels?: readonly string[]
}

export interface InventoryHost extends HostFields {
  /** 1-based, as errors name it. */
  readonly index: number
  /** `[user@]host[:port]` as written (a map's `host`). */
  readonly entry: string
}

export interface Inventory {
  readonly defaults: HostFields
  readonly hosts: readonly InventoryHost[]
}

const HOST_FIELDS = [
  'host',
  'user',
  'port',
  'target',
  'jump',
  'fingerprint',
  'key-env',
  'password-env',
  'labels'
] as const
const DEFAULT_FIELDS = HOST_FIELDS.filter((field) => field !== 'host')
const HOP_FIELDS = ['host', 'user', 'port', 'fingerprint', 'key-env', 'password-env'] as const

/** Where a value is, for messages: `hosts[2] (web2.example.com)`, `defaults`. */
type Where = string

function fail(where: Where, problem: string): InputError {
  return new InputError('inventory', `${where}: ${problem}`)
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'a map'
  return `${typeof value} ${JSON.stringify(value)}`
}

function checkFields(map: Record<string, unknown>, known: readonly string[], where: Where): void {
  for (const field of Object.keys(map))
    if (!known.includes(field))
      throw fail(where, `unknown field '${field}' (known: ${known.join(', ')})`)
}

function text(value: unknown, field: string, where: Where): string {
  if (typeof value !== 'string' || value.trim() === '')
    throw fail(where, `'${field}' must be a non-empty string, got ${describe(value)}`)
  if (value.includes('\0') || /[\r\n]/.test(value))
    throw fail(where, `'${field}' must be one line without NUL characters`)
  return value.trim()
}

function port(value: unknown, where: Where): number {
  const parsed =
    typeof value === 'number' && Number.isInteger(value)
      ? parsePort(String(value))
      : typeof value === 'string'
        ? parsePort(value.trim())
        : undefined
  if (parsed === undefined)
    throw fail(where, `'port' must be a port number (1-65535), got ${describe(value)}`)
  return parsed
}

/** A string or a list of strings (`fingerprint`), split on blanks and commas. */
function words(value: unknown, field: string, where: Where): string[] {
  const items = Array.isArray(value) ? value : [value]
  const out: string[] = []
  for (const item of items) {
    if (typeof item !== 'string')
      throw fail(where, `'${field}' must be a string or a list of strings, got ${describe(item)}`)
    out.push(...item.split(/[\s,]+/).filter((part) => part !== ''))
  }
  if (out.length === 0) throw fail(where, `'${field}' is empty`)
  return out
}

function labels(value: unknown, where: Where): string[] {
  if (!Array.isArray(value))
    throw fail(where, `'labels' must be a list of strings, got ${describe(value)}`)
  return value.map((item) => {
    if (typeof item !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._:/-]*$/.test(item))
      throw fail(
        where,
        `'labels' items must be words (letters, digits, . _ : / -), got ${describe(item)}`
      )
    return item
  })
}

function envName(value: unknown, field: string, where: Where): string {
  const name = text(value, field, where)
  // What was given is not shown: a secret pasted here by mistake must not reach the log.
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
    throw fail(where, `'${field}' must be the name of an environment variable (letters, digits, _)`)
  return name
}

function hop(value: unknown, where: Where): HopEntry {
  if (typeof value === 'string') return { entry: text(value, 'jump', where) }
  if (!isMap(value))
    throw fail(where, `'jump' items must be strings or maps, got ${describe(value)}`)
  checkFields(value, HOP_FIELDS, `${where} 'jump'`)
  if (value.host === undefined) throw fail(where, `a 'jump' item has no 'host'`)
  return {
    entry: text(value.host, 'host', `${where} 'jump'`),
    ...(value.user === undefined ? {} : { user: text(value.user, 'user', `${where} 'jump'`) }),
    ...(value.port === undefined ? {} : { port: port(value.port, `${where} 'jump'`) }),
    ...(value.fingerprint === undefined
      ? {}
      : { fingerprints: words(value.fingerprint, 'fingerprint', `${where} 'jump'`) }),
    ...(value['key-env'] === undefined
      ? {}
      : { keyEnv: envName(value['key-env'], 'key-env', `${where} 'jump'`) }),
    ...(value['password-env'] === undefined
      ? {}
      : { passwordEnv: envName(value['password-env'], 'password-env', `${where} 'jump'`) })
  }
}

/** `jump`: a string of `,`-separated entries, or a list of strings and maps. */
function jump(value: unknown, where: Where): HopEntry[] {
  if (typeof value === 'string')
    return value
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '')
      .map((entry) => ({ entry }))
  if (!Array.isArray(value))
    throw fail(where, `'jump' must be a string or a list, got ${describe(value)}`)
  return value.map((item) => hop(item, where))
}

/** The fields of a host entry or of `defaults:`, each checked. */
function fields(map: Record<string, unknown>, where: Where): HostFields {
  const out: {
    -readonly [K in keyof HostFields]: HostFields[K]
  } = {}
  if (map.user !== undefined) out.user = text(map.user, 'user', where)
  if (map.port !== undefined) out.port = port(map.port, where)
  if (map.target !== undefined) out.target = text(map.target, 'target', where)
  if (map.jump !== undefined) out.jump = jump(map.jump, where)
  if (map.fingerprint !== undefined) out.fingerprints = words(map.fingerprint, 'fingerprint', where)
  if (map['key-env'] !== undefined) out.keyEnv = envName(map['key-env'], 'key-env', where)
  if (map['password-env'] !== undefined)
    out.passwordEnv = envName(map['password-env'], 'password-env', where)
  if (map.labels !== undefined) out.labels = labels(map.labels, where)
  return out
}

function hostEntry(value: unknown, index: number): InventoryHost {
  if (typeof value === 'string') return { index, entry: text(value, 'host', `hosts[${index}]`) }
  if (!isMap(value))
    throw fail(
      `hosts[${index}]`,
      `must be a '[user@]host[:port]' string or a map, got ${describe(value)}`
    )
  const named = typeof value.host === 'string' ? ` (${value.host})` : ''
  const where = `hosts[${index}]${named}`
  checkFields(value, HOST_FIELDS, where)
  if (value.host === undefined) throw fail(where, `'host' is missing`)
  return { index, entry: text(value.host, 'host', where), ...fields(value, where) }
}

/** The YAML or JSON document, or an error naming where it stops being one. */
function load(source: string): unknown {
  const document = parseDocument(source, { prettyErrors: false, uniqueKeys: true })
  const [error] = document.errors
  if (error === undefined) return document.toJS() as unknown
  if (error.code === 'DUPLICATE_KEY') throw duplicateField(source, error)
  const line = source.slice(0, error.pos[0]).split('\n').length
  throw new InputError(
    'inventory',
    `is not valid YAML or JSON (line ${line}): ${error.message.split('\n')[0]}`
  )
}

/** A field given twice: named with its entry (`hosts[i] (host)`, or `defaults`) and line. */
function duplicateField(source: string, error: YAMLError): InputError {
  const [start, end] = error.pos
  const line = source.slice(0, start).split('\n').length
  // The error points into the repeated key: its whole text runs to the quote or colon.
  const field =
    /^(["']?)([^"':,\n]+)\1/.exec(source.slice(start))?.[2]?.trim() ?? source.slice(start, end)
  const document = parseDocument(source, { uniqueKeys: false })
  const holds = (node: unknown): boolean => {
    const range = (node as { range?: readonly number[] } | null)?.range
    return range !== undefined && (range[0] ?? 0) <= start && start < (range[2] ?? 0)
  }
  const hosts = document.get('hosts', true)
  const index = (isSeq(hosts) ? hosts.items : []).findIndex(holds)
  const entry = (document.toJS() as { hosts?: unknown[] } | null)?.hosts?.[index]
  const name = isMap(entry) && typeof entry.host === 'string' ? ` (${entry.host})` : ''
  const where =
    index >= 0
      ? `hosts[${index + 1}]${name}`
      : holds(document.get('defaults', true))
        ? 'defaults'
        : 'the top level'
  return fail(where, `'${field}' is given twice (line ${line}); give each field once`)
}

export function parseInventory(source: string): Inventory {
  const document = load(source)
  if (!isMap(document))
    throw new InputError(
      'inventory',
      `must be a map with 'hosts:' (and optionally 'defaults:'), got ${describe(document)}`
    )
  checkFields(document, ['defaults', 'hosts'], 'the top level')
  const defaults = document.defaults ?? {}
  if (!isMap(defaults)) throw fail('defaults', `must be a map, got ${describe(defaults)}`)
  checkFields(defaults, DEFAULT_FIELDS, 'defaults')
  if (!Array.isArray(document.hosts))
    throw new InputError(
      'inventory',
      `'hosts' must be a list of entries, got ${document.hosts === undefined ? 'nothing' : describe(document.hosts)}`
    )
  return {
    defaults: fields(defaults, 'defaults'),
    hosts: document.hosts.map((value, index) => hostEntry(value, index + 1))
  }
}

/**
 * Whether the input's text is the inventory itself rather than the path of a file holding it:
 * more than one line, a JSON or YAML flow collection, or a line that starts `hosts:` or
 * `defaults:`.
 */
export function isInventoryText(value: string): boolean {
  const trimmed = value.trim()
  return /[\r\n]/.test(trimmed) || /^[{[]/.test(trimmed) || /^(hosts|defaults)\s*:/.test(trimmed)
}
