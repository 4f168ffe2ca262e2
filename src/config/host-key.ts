// Host key trust: which server keys a host may present, and the algorithms to offer it.
// Fails closed: a host passes only by a known_hosts entry or a pinned fingerprint, unless the
// workflow asked for `insecure-ignore-host-key` in so many words.

import { createHash, timingSafeEqual } from 'node:crypto'
import { HostKeyError } from '../errors.js'
import type { HostKeyCheck } from '../ssh/types.js'
import { blobKeyType, entriesFor, knownHostsName, type KnownHostEntry } from './known-hosts.js'

export interface Fingerprint {
  readonly algorithm: 'sha256' | 'md5'
  readonly digest: Buffer
  /** As the user wrote it, for messages. */
  readonly text: string
}

export type HostKeyPolicy =
  | { readonly mode: 'insecure' }
  | {
      readonly mode: 'verify'
      readonly knownHosts: readonly KnownHostEntry[]
      readonly fingerprints: readonly Fingerprint[]
    }

export type HostKeyVerdict =
  { readonly ok: true; readonly how: string } | { readonly ok: false; readonly reason: string }

/** `SHA256:` + unpadded base64, as `ssh-keygen -l` prints. */
export function sha256Fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`
}

export function md5Fingerprint(blob: Buffer): string {
  const hex = createHash('md5').update(blob).digest('hex')
  return `MD5:${hex.replace(/(..)(?!$)/g, '$1:')}`
}

/** Parses one fingerprint: `SHA256:base64`, `MD5:aa:bb:…` or bare colon-separated MD5 hex. */
export function parseFingerprint(text: string): Fingerprint | undefined {
  const value = text.trim()
  const sha = /^SHA256:([A-Za-z0-9+/]{43})=?$/.exec(value)
  if (sha?.[1] !== undefined) {
    const digest = Buffer.from(sha[1], 'base64')
    return digest.length === 32 ? { algorithm: 'sha256', digest, text: value } : undefined
  }
  const md5 = /^(?:MD5:)?((?:[0-9a-f]{2}:){15}[0-9a-f]{2})$/i.exec(value)
  if (md5?.[1] !== undefined)
    return {
      algorithm: 'md5',
      digest: Buffer.from(md5[1].replace(/:/g, ''), 'hex'),
      text: value
    }
  return undefined
}

function fingerprintMatches(fingerprint: Fingerprint, blob: Buffer): boolean {
  const digest = createHash(fingerprint.algorithm).update(blob).digest()
  return digest.length === fingerprint.digest.length && timingSafeEqual(digest, fingerprint.digest)
}

export function checkHostKey(
  policy: HostKeyPolicy,
  host: string,
  port: number,
  blob: Buffer
): HostKeyVerdict {
  if (policy.mode === 'insecure') return { ok: true, how: 'not checked (insecure-ignore-host-key)' }

  const entries = entriesFor(policy.knownHosts, host, port)
  const revoked = entries.find((entry) => entry.marker === 'revoked' && entry.keyBlob.equals(blob))
  if (revoked !== undefined)
    return { ok: false, reason: `the key is marked @revoked in known-hosts (line ${revoked.line})` }

  const known = entries.find((entry) => entry.marker === undefined && entry.keyBlob.equals(blob))
  if (known !== undefined) return { ok: true, how: `known-hosts line ${known.line}` }

  const pinned = policy.fingerprints.find((fingerprint) => fingerprintMatches(fingerprint, blob))
  if (pinned !== undefined) return { ok: true, how: `fingerprint ${pinned.text}` }

  const name = knownHostsName(host, port)
  const listed = entries.filter((entry) => entry.marker === undefined)
  const sources: string[] = []
  if (policy.knownHosts.length > 0)
    sources.push(
      listed.length > 0
        ? `known-hosts lists other keys for ${name} (${listed.map((e) => e.keyType).join(', ')}) — the host key has changed or this is not the host you meant`
        : `known-hosts has no entry for ${name}`
    )
  if (policy.fingerprints.length > 0)
    sources.push(`it matches none of the ${policy.fingerprints.length} fingerprint(s) given`)
  if (entries.some((entry) => entry.marker === 'cert-authority'))
    sources.push('host certificates (@cert-authority) are not supported: list the host key itself')
  return { ok: false, reason: sources.join('; ') }
}

const ALGORITHMS_BY_KEY_TYPE: Readonly<Record<string, readonly string[]>> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-dss': ['ssh-dss']
}

/**
 * Host key algorithms to offer a host. Where known-hosts lists the host's keys (and no
 * fingerprint could admit another type), only those types are offered, as OpenSSH does, so a
 * server that also holds a key of another type presents the one we can check.
 */
export function hostKeyAlgorithms(
  policy: HostKeyPolicy,
  host: string,
  port: number
): string[] | undefined {
  if (policy.mode === 'insecure' || policy.fingerprints.length > 0) return undefined
  const types = entriesFor(policy.knownHosts, host, port)
    .filter((entry) => entry.marker === undefined)
    .map((entry) => entry.keyType)
  const algorithms = [...new Set(types.flatMap((type) => ALGORITHMS_BY_KEY_TYPE[type] ?? []))]
  return algorithms.length > 0 ? algorithms : undefined
}

export function describeHostKey(blob: Buffer): { keyType: string; fingerprint: string } {
  return { keyType: blobKeyType(blob) ?? 'unknown', fingerprint: sha256Fingerprint(blob) }
}

/** A known_hosts line for the key a server presented, to paste into `known-hosts`. */
export function knownHostsLine(host: string, port: number, blob: Buffer): string {
  return `${knownHostsName(host, port)} ${blobKeyType(blob) ?? 'unknown'} ${blob.toString('base64')}`
}

/**
 * The check a connection makes of the key its server presents: trusted, or a HostKeyError that
 * prints the key's type and `SHA256:` fingerprint and the known_hosts line to pin it.
 */
export function hostKeyChecker(
  policy: HostKeyPolicy,
  host: { readonly host: string; readonly port: number; readonly label: string }
): (blob: Buffer) => HostKeyCheck {
  return (blob) => {
    const verdict = checkHostKey(policy, host.host, host.port, blob)
    if (verdict.ok) return { ok: true }
    const { keyType, fingerprint } = describeHostKey(blob)
    return {
      ok: false,
      error: new HostKeyError(
        `host key verification failed for ${host.label}: the server presented ${keyType} ${fingerprint}, and ${verdict.reason}. If this is the right host, add to known-hosts: ${knownHostsLine(host.host, host.port, blob)}`,
        keyType,
        fingerprint
      )
    }
  }
}
