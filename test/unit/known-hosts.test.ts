import { describe, expect, test } from 'vitest'
import {
  checkHostKey,
  hostKeyAlgorithms,
  knownHostsLine,
  md5Fingerprint,
  parseFingerprint,
  sha256Fingerprint,
  type HostKeyPolicy
} from '../../src/config/host-key.js'
import {
  entriesFor,
  KnownHostsError,
  parseKnownHosts,
  patternsMatch
} from '../../src/config/known-hosts.js'
import { blobOf, hashKnownHosts, keygenFingerprint, sshKeygen } from '../helpers/keys.js'

const ed = sshKeygen('ed25519')
const rsa = sshKeygen('rsa', ['-b', '2048'])
const other = sshKeygen('ed25519')
const keyText = (line: string): string => line.trim().split(/\s+/).slice(0, 2).join(' ')

function policy(knownHosts: string, fingerprints: string[] = []): HostKeyPolicy {
  return {
    mode: 'verify',
    knownHosts: parseKnownHosts(knownHosts),
    fingerprints: fingerprints.map((text) => {
      const parsed = parseFingerprint(text)
      if (parsed === undefined) throw new Error(`bad fingerprint ${text}`)
      return parsed
    })
  }
}

describe('known_hosts as OpenSSH writes it', () => {
  test('plain names on port 22, [host]:port elsewhere', () => {
    const entries = parseKnownHosts(
      `# comment\nweb1,10.0.0.1 ${keyText(ed.publicKey)}\n[web2]:2222 ${keyText(rsa.publicKey)}\n`
    )
    expect(entries).toHaveLength(2)
    expect(entriesFor(entries, 'web1', 22)).toHaveLength(1)
    expect(entriesFor(entries, '10.0.0.1', 22)).toHaveLength(1)
    expect(entriesFor(entries, 'web1', 2222)).toHaveLength(0)
    expect(entriesFor(entries, 'web2', 2222)).toHaveLength(1)
    expect(entriesFor(entries, 'web2', 22)).toHaveLength(0)
  })

  test('hashed entries written by ssh-keygen -H match the same hosts', () => {
    const hashed = hashKnownHosts(
      `web1 ${keyText(ed.publicKey)}\n[127.0.1.5]:2200 ${keyText(rsa.publicKey)}\n`
    )
    expect(hashed).toMatch(/^\|1\|/)
    const entries = parseKnownHosts(hashed)
    expect(entriesFor(entries, 'web1', 22)[0]?.keyType).toBe('ssh-ed25519')
    expect(entriesFor(entries, '127.0.1.5', 2200)[0]?.keyType).toBe('ssh-rsa')
    expect(entriesFor(entries, '127.0.1.5', 22)).toHaveLength(0)
    expect(entriesFor(entries, 'web2', 22)).toHaveLength(0)
  })

  test('CRLF line ends and a byte order mark (a file saved on Windows) read as LF does', () => {
    const text =
      `# from ssh-keyscan\nweb1,10.0.0.1 ${keyText(ed.publicKey)}\n` +
      hashKnownHosts(`[127.0.1.5]:2200 ${keyText(rsa.publicKey)}\n`) +
      `@revoked * ${keyText(other.publicKey)}\n`
    const crlf = `\uFEFF${text.replace(/\n/g, '\r\n')}`
    expect(parseKnownHosts(crlf)).toEqual(parseKnownHosts(text))
    expect(parseKnownHosts(crlf)).toHaveLength(3)
    const verdict = (host: string, port: number, key: string) =>
      checkHostKey(policy(crlf), host, port, blobOf(key)).ok
    expect(verdict('web1', 22, ed.publicKey)).toBe(true)
    expect(verdict('127.0.1.5', 2200, rsa.publicKey)).toBe(true)
    expect(verdict('127.0.1.5', 2200, ed.publicKey)).toBe(false)
    expect(verdict('web1', 22, other.publicKey)).toBe(false)
  })

  test('wildcards and negation', () => {
    expect(patternsMatch('*.example.com,!bad.example.com', 'web.example.com')).toBe(true)
    expect(patternsMatch('*.example.com,!bad.example.com', 'bad.example.com')).toBe(false)
    expect(patternsMatch('web?', 'web1')).toBe(true)
    expect(patternsMatch('web?', 'web10')).toBe(false)
    expect(patternsMatch('[10.0.0.*]:2222', '[10.0.0.7]:2222')).toBe(true)
  })

  test.each([
    ['web1 ssh-ed25519', /expected/],
    ['web1 ssh-ed25519 not*base64', /not base64/],
    [`web1 ssh-rsa ${keyText(ed.publicKey).split(' ')[1] ?? ''}`, /says it is 'ssh-ed25519'/],
    [`@bogus web1 ${keyText(ed.publicKey)}`, /unknown marker/],
    [`|1|abc ${keyText(ed.publicKey)}`, /hashed/]
  ])('refuses %j with its line number', (line, message) => {
    expect(() => parseKnownHosts(`# first\n${line}`)).toThrow(KnownHostsError)
    expect(() => parseKnownHosts(`# first\n${line}`)).toThrow(/line 2/)
    expect(() => parseKnownHosts(line)).toThrow(message)
  })
})

describe('host key verdicts', () => {
  const known = `[127.0.1.2]:2200 ${keyText(ed.publicKey)}\n`

  test('a listed key passes; another key fails with the reason', () => {
    expect(checkHostKey(policy(known), '127.0.1.2', 2200, blobOf(ed.publicKey)).ok).toBe(true)
    const verdict = checkHostKey(policy(known), '127.0.1.2', 2200, blobOf(other.publicKey))
    expect(verdict).toMatchObject({ ok: false })
    expect(verdict.ok ? '' : verdict.reason).toMatch(/lists other keys .*ssh-ed25519/)
    const unknownHost = checkHostKey(policy(known), '127.0.1.3', 2200, blobOf(ed.publicKey))
    expect(unknownHost.ok ? '' : unknownHost.reason).toMatch(/no entry for \[127.0.1.3\]:2200/)
  })

  test('@revoked wins over a listing', () => {
    const text = `${known}@revoked * ${keyText(ed.publicKey)}\n`
    const verdict = checkHostKey(policy(text), '127.0.1.2', 2200, blobOf(ed.publicKey))
    expect(verdict.ok ? '' : verdict.reason).toMatch(/@revoked/)
  })

  test('fingerprints as ssh-keygen -l prints them (SHA256 and MD5) pin a key', () => {
    const sha = keygenFingerprint(ed.path)
    const md5 = keygenFingerprint(ed.path, 'md5')
    expect(sha256Fingerprint(blobOf(ed.publicKey))).toBe(sha)
    expect(md5Fingerprint(blobOf(ed.publicKey))).toBe(md5)
    for (const fingerprint of [sha, md5, md5.replace(/^MD5:/, '')]) {
      expect(checkHostKey(policy('', [fingerprint]), 'h', 22, blobOf(ed.publicKey)).ok).toBe(true)
      expect(checkHostKey(policy('', [fingerprint]), 'h', 22, blobOf(other.publicKey)).ok).toBe(
        false
      )
    }
  })

  test('any of several fingerprints passes', () => {
    const pins = [keygenFingerprint(other.path), keygenFingerprint(rsa.path)]
    expect(checkHostKey(policy('', pins), 'h', 22, blobOf(rsa.publicKey)).ok).toBe(true)
  })

  test.each(['SHA256:short', 'sha256:' + 'A'.repeat(43), 'ab:cd', 'MD5:zz'])(
    '%j is not a fingerprint',
    (text) => {
      expect(parseFingerprint(text)).toBeUndefined()
    }
  )

  test('a @cert-authority entry does not admit a host, and the reason says certificates are not supported', () => {
    const text = `@cert-authority *.example.com ${keyText(ed.publicKey)}\n`
    const verdict = checkHostKey(policy(text), 'web.example.com', 22, blobOf(ed.publicKey))
    expect(verdict.ok ? '' : verdict.reason).toMatch(/@cert-authority\) are not supported/)
  })

  test('insecure mode accepts anything', () => {
    expect(checkHostKey({ mode: 'insecure' }, 'h', 22, blobOf(other.publicKey)).ok).toBe(true)
  })

  test('only the key types known-hosts lists for a host are offered', () => {
    const text = `[h]:2200 ${keyText(rsa.publicKey)}\nother ${keyText(ed.publicKey)}\n`
    expect(hostKeyAlgorithms(policy(text), 'h', 2200)).toEqual([
      'rsa-sha2-512',
      'rsa-sha2-256',
      'ssh-rsa'
    ])
    expect(hostKeyAlgorithms(policy(text), 'nobody', 22)).toBeUndefined()
    expect(hostKeyAlgorithms(policy(text, [keygenFingerprint(ed.path)]), 'h', 2200)).toBeUndefined()
  })

  test('the line to pin a presented key reads back as the same key', () => {
    const line = knownHostsLine('127.0.1.9', 2201, blobOf(ed.publicKey))
    expect(line.startsWith('[127.0.1.9]:2201 ssh-ed25519 AAAA')).toBe(true)
    expect(checkHostKey(policy(line), '127.0.1.9', 2201, blobOf(ed.publicKey)).ok).toBe(true)
  })
})
