// known_hosts as OpenSSH reads it (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"): plain and hashed
// (`|1|salt|hash`) host patterns, `[host]:port`, wildcards and negation, `@revoked`.
// Pure: parsing and matching only.

import { createHmac, timingSafeEqual } from 'node:crypto'
import { InputError } from '../errors.js'

export type KnownHostMarker = 'revoked' | 'cert-authority' | undefined

export interface KnownHostEntry {
  readonly line: number
  readonly marker: KnownHostMarker
  /** Comma-separated patterns, or one hashed `|1|salt|hash` entry. */
  readonly patterns: string
  readonly keyType: string
  readonly keyBlob: Buffer
}

/** A line of `known-hosts` that cannot be read: an input error naming the line. */
export class KnownHostsError extends InputError {
  constructor(
    readonly line: number,
    problem: string
  ) {
    super('known-hosts', `line ${line}: ${problem}`)
    this.name = 'KnownHostsError'
  }
}

/** The key type named inside an SSH public key blob (its first string). */
export function blobKeyType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined
  const length = blob.readUInt32BE(0)
  if (length === 0 || length > 64 || blob.length < 4 + length) return undefined
  return blob.subarray(4, 4 + length).toString('latin1')
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = []
  const lines = text.split(/\r?\n/)
  lines.forEach((raw, index) => {
    const lineNo = index + 1
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) return
    const fields = line.split(/\s+/)
    let marker: KnownHostMarker
    if (fields[0]?.startsWith('@')) {
      const name = fields.shift()
      if (name === '@revoked') marker = 'revoked'
      else if (name === '@cert-authority') marker = 'cert-authority'
      else throw new KnownHostsError(lineNo, `unknown marker '${name ?? ''}'`)
    }
    const [patterns, keyType, keyText] = fields
    if (patterns === undefined || keyType === undefined || keyText === undefined)
      throw new KnownHostsError(
        lineNo,
        'expected "host-patterns key-type base64-key", as `ssh-keyscan` prints'
      )
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(keyText))
      throw new KnownHostsError(lineNo, `the ${keyType} key is not base64`)
    const keyBlob = Buffer.from(keyText, 'base64')
    const embedded = blobKeyType(keyBlob)
    if (embedded !== keyType)
      throw new KnownHostsError(
        lineNo,
        `the key says it is '${embedded ?? 'unreadable'}' but the line says '${keyType}'`
      )
    if (patterns.startsWith('|') && !/^\|1\|[A-Za-z0-9+/=]+\|[A-Za-z0-9+/=]+$/.test(patterns))
      throw new KnownHostsError(lineNo, 'unreadable hashed host name (expected |1|salt|hash)')
    entries.push({ line: lineNo, marker, patterns, keyType, keyBlob })
  })
  return entries
}

/** The name OpenSSH looks a host up by: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`
}

function wildcardMatch(pattern: string, name: string): boolean {
  const source = pattern
    .split('')
    .map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('')
  return new RegExp(`^${source}$`, 'i').test(name)
}

function hashedMatch(entry: string, name: string): boolean {
  const [, , saltText, hashText] = entry.split('|')
  if (saltText === undefined || hashText === undefined) return false
  const expected = Buffer.from(hashText, 'base64')
  const actual = createHmac('sha1', Buffer.from(saltText, 'base64')).update(name).digest()
  return expected.length === actual.length && timingSafeEqual(expected, actual)
}

/** Whether a known_hosts pattern list names this host (a negated match vetoes the line). */
export function patternsMatch(patterns: string, name: string): boolean {
  if (patterns.startsWith('|')) return hashedMatch(patterns, name)
  let matched = false
  for (const pattern of patterns.split(',')) {
    if (pattern.startsWith('!')) {
      if (wildcardMatch(pattern.slice(1), name)) return false
    } else if (wildcardMatch(pattern, name)) {
      matched = true
    }
  }
  return matched
}

/** Entries that apply to a host, plain host keys and `@revoked` keys alike. */
export function entriesFor(
  entries: readonly KnownHostEntry[],
  host: string,
  port: number
): KnownHostEntry[] {
  const name = knownHostsName(host, port)
  return entries.filter((entry) => patternsMatch(entry.patterns, name))
}
