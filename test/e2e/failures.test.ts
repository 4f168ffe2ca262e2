// What users rely on when something is wrong: the step fails, each failed host alone, with a
// message they can act on; bad input is refused before any connection and nothing is written.

import { existsSync, readdirSync } from 'node:fs'
import { describe, expect, test } from 'vitest'
import { sshKeygen } from '../helpers/keys.js'
import { workspace } from '../helpers/workspace.js'
import { fleetInputs, results, runAction, treeDigest, sha256 } from '../harness/run-action.js'
import { startPasswordServer, startSilentListener } from '../harness/ssh2-server.js'
import { startFleet, useFleet, type TestHost } from '../harness/sshd.js'

const fleet = useFleet({ count: 4 })

const host = (index: number): TestHost => fleet.host(index)

const inputs = (hosts: TestHost[], extra: Record<string, string> = {}): Record<string, string> =>
  fleetInputs(fleet, hosts, extra)

const errorAnnotations = (stdout: string): string[] =>
  stdout.split('\n').filter((line) => line.startsWith('::error'))
const connections = (h: TestHost): number => (h.log().match(/Connection from/g) ?? []).length
const isEmpty = (dir: string): boolean => !existsSync(dir) || readdirSync(dir).length === 0

describe('host trust failures', () => {
  test('a host whose key is not pinned fails alone after 1 attempt, with its real fingerprint; nothing is written to it', async () => {
    const [a, b, stranger] = [host(0), host(1), host(2)]
    const ws = workspace({ 'index.html': 'v1' })
    const run = await runAction(
      inputs([a, stranger, b], {
        'known-hosts': `${a.knownHosts}\n${b.knownHosts}`,
        target: 'pin'
      }),
      { cwd: ws }
    )
    expect(run.code).toBe(1)
    const [ra, rs, rb] = results(run)
    expect(ra).toMatchObject({ status: 'success', uploaded: 1 })
    expect(rb).toMatchObject({ status: 'success', uploaded: 1 })
    expect(rs).toMatchObject({ status: 'failed', attempts: 1, uploaded: 0, bytes: 0 })
    expect(rs?.error).toContain(stranger.fingerprints[0])
    expect(rs?.error).toContain('ssh-ed25519')
    expect(rs?.error).toMatch(/known-hosts has no entry for \[127\.0\.\d+\.\d+\]:\d+/)
    expect(isEmpty(stranger.path('pin'))).toBe(true)
    expect(errorAnnotations(run.stdout)).toHaveLength(1)
    expect(errorAnnotations(run.stdout)[0]).toContain(stranger.fingerprints[0])
    expect(JSON.parse(run.outputs['failed-hosts'] ?? '')).toEqual([
      `${fleet.user}@${stranger.entry}`
    ])
    expect(run.outputs['failed-count']).toBe('1')
    expect(run.summary).toMatch(
      new RegExp(`\\| ${fleet.user}@${stranger.entry.replace(/\./g, '\\.')} \\| ❌ failed`)
    )
  })

  test('a changed host key (known-hosts lists another key) fails the same way', async () => {
    const impostor = sshKeygen('ed25519').publicKey.split(' ').slice(0, 2).join(' ')
    const ws = workspace({ 'x.txt': 'x' })
    const run = await runAction(
      inputs([host(0)], {
        'known-hosts': `[${host(0).address}]:${host(0).port} ${impostor}`,
        target: 'changed'
      }),
      { cwd: ws }
    )
    expect(run.code).toBe(1)
    expect(results(run)[0]).toMatchObject({ status: 'failed', attempts: 1 })
    expect(results(run)[0]?.error).toMatch(/lists other keys .* host key has changed/)
    expect(isEmpty(host(0).path('changed'))).toBe(true)
  })

  test('with no host key material at all the step is refused before connecting', async () => {
    const before = connections(host(0))
    const run = await runAction(inputs([host(0)], { 'known-hosts': '', target: 'nokeys' }), {
      cwd: workspace({ 'x.txt': 'x' })
    })
    expect(run.code).toBe(1)
    expect(errorAnnotations(run.stdout)).toEqual([
      expect.stringMatching(/^::error::Input 'known-hosts': no host key/)
    ])
    expect(connections(host(0))).toBe(before)
    expect(isEmpty(host(0).path('nokeys'))).toBe(true)
  })

  test('insecure-ignore-host-key deploys with a warning', async () => {
    const run = await runAction(
      inputs([host(3)], {
        'known-hosts': '',
        'insecure-ignore-host-key': 'true',
        target: 'insecure'
      }),
      { cwd: workspace({ 'x.txt': 'x' }) }
    )
    expect(run.code, run.stdout).toBe(0)
    expect(run.stdout).toMatch(/::warning::insecure-ignore-host-key is true/)
    expect(treeDigest(host(3).path('insecure'))).toEqual({ 'x.txt': sha256('x') })
  })

  test('a key the server does not accept: 1 attempt, an authentication error', async () => {
    const run = await runAction(
      inputs([host(0)], { key: sshKeygen('ed25519').privateKey, target: 'auth' }),
      {
        cwd: workspace({ 'x.txt': 'x' })
      }
    )
    expect(run.code).toBe(1)
    expect(results(run)[0]).toMatchObject({ status: 'failed', attempts: 1 })
    expect(results(run)[0]?.error).toMatch(/authentication failed/)
  })
})

describe('unreachable hosts', () => {
  test('a dead host among live ones is retried, reported, and the others are deployed', async () => {
    const dead = await startFleet({ count: 1 })
    const deadHost = dead.hosts[0] as TestHost
    await dead.stop()
    const ws = workspace({ 'a.txt': 'live' })
    const run = await runAction(
      {
        ...inputs([host(0), deadHost, host(1)], { target: 'dead', retries: '2' }),
        'known-hosts': `${fleet.knownHosts}\n${deadHost.knownHosts}`
      },
      { cwd: ws }
    )
    expect(run.code).toBe(1)
    const [first, gone, last] = results(run)
    expect(first).toMatchObject({ status: 'success', uploaded: 1 })
    expect(last).toMatchObject({ status: 'success', uploaded: 1 })
    expect(gone).toMatchObject({ status: 'failed', attempts: 3 })
    expect(gone?.error).toMatch(/ECONNREFUSED/)
    expect(run.stdout).toMatch(/attempt 1 failed after \S+ \(network\).*retrying in/)
    expect(errorAnnotations(run.stdout)).toHaveLength(1)
    expect(treeDigest(host(1).path('dead'))).toEqual({ 'a.txt': sha256('live') })
  })

  test('a server that never answers fails within connect-timeout, retried as the contract says', async () => {
    const silent = await startSilentListener('127.0.0.1')
    try {
      const run = await runAction(
        {
          ...inputs([], { retries: '1', 'connect-timeout': '1s' }),
          host: silent.entry,
          'known-hosts': silent.knownHosts
        },
        { cwd: workspace({ 'x.txt': 'x' }), timeoutMs: 30_000 }
      )
      expect(run.code).toBe(1)
      expect(results(run)[0]).toMatchObject({ status: 'failed', attempts: 2 })
      expect(results(run)[0]?.error).toMatch(
        /no SSH session within 1s|Timed out while waiting for handshake/
      )
    } finally {
      await silent.stop()
    }
  })

  test('the host timeout stops the attempt under way and starts no retry', async () => {
    const silent = await startSilentListener('127.0.0.1')
    try {
      const run = await runAction(
        {
          ...inputs([], { retries: '5', 'connect-timeout': '30s', timeout: '1500ms' }),
          host: silent.entry,
          'known-hosts': silent.knownHosts
        },
        { cwd: workspace({ 'x.txt': 'x' }), timeoutMs: 30_000 }
      )
      expect(run.code).toBe(1)
      expect(results(run)[0]).toMatchObject({ status: 'failed', attempts: 1 })
      expect(results(run)[0]?.error).toMatch(/timeout of 1\.5s passed/)
    } finally {
      await silent.stop()
    }
  })

  test('cancelling the run (SIGTERM) stops the host under way and skips those not started', async () => {
    const silent = await startSilentListener('127.0.0.1')
    try {
      const run = await runAction(
        {
          ...inputs([host(0), host(1)], { 'max-parallel': '1', 'connect-timeout': '60s' }),
          host: `${silent.entry}\n${host(0).entry}\n${host(1).entry}`,
          'known-hosts': `${fleet.knownHosts}\n${silent.knownHosts}`
        },
        {
          cwd: workspace({ 'x.txt': 'x' }),
          timeoutMs: 30_000,
          onSpawn: (child) => setTimeout(() => child.kill('SIGTERM'), 1500)
        }
      )
      expect(run.signal).toBeNull()
      expect(run.code).toBe(1)
      expect(results(run).map((r) => r.status)).toEqual(['failed', 'skipped', 'skipped'])
      expect(results(run)[0]?.error).toMatch(/cancelled \(SIGTERM\)/)
    } finally {
      await silent.stop()
    }
  })
})

describe('bad input is refused before any connection, naming the input; nothing is written', () => {
  const cases: [string, Record<string, string>, string][] = [
    ['empty host', { host: '' }, 'host'],
    ['duplicate host', { host: 'DUP\nDUP' }, 'host'],
    ['strip-components: -1', { 'strip-components': '-1' }, 'strip-components'],
    ['max-parallel: many', { 'max-parallel': 'many' }, 'max-parallel'],
    ['retries: 1.5', { retries: '1.5' }, 'retries'],
    ['verify: crc32', { verify: 'crc32' }, 'verify'],
    ['connect-timeout: soon', { 'connect-timeout': 'soon' }, 'connect-timeout'],
    ['timeout: forever', { timeout: 'forever' }, 'timeout'],
    ['a public key as key', { key: 'PUBLIC' }, 'key'],
    [
      'a key that does not parse',
      { key: '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----' },
      'key'
    ],
    ['a wrong passphrase', { key: 'RSA', passphrase: 'wrong passphrase' }, 'passphrase'],
    ['an encrypted key without passphrase', { key: 'RSA' }, 'passphrase'],
    ['a known-hosts line that is not one', { 'known-hosts': 'garbage' }, 'known-hosts'],
    ['working-directory that does not exist', { 'working-directory': 'nope' }, 'working-directory'],
    ['strip-components that removes whole paths', { 'strip-components': '5' }, 'strip-components'],
    ['no file matched', { source: 'nothing/**' }, 'source']
  ]

  test.each(cases)('%s', async (_what, overrides, input) => {
    const target = host(2)
    const values: Record<string, string> = {
      ...inputs([target], { target: 'refused' }),
      ...overrides
    }
    if (values.host === 'DUP\nDUP') values.host = `${target.entry}\n${fleet.user}@${target.entry}`
    if (values.key === 'PUBLIC') values.key = sshKeygen('ed25519').publicKey
    if (values.key === 'RSA') values.key = fleet.keys.rsaPemEncrypted
    const before = connections(target)
    const run = await runAction(values, { cwd: workspace({ 'site/a.txt': 'a' }) })
    expect(run.code).toBe(1)
    const annotations = errorAnnotations(run.stdout)
    expect(annotations).toHaveLength(1)
    expect(annotations[0]).toMatch(new RegExp(`^::error::Input '${input}': `))
    expect(connections(target)).toBe(before)
    expect(isEmpty(target.path('refused'))).toBe(true)
    expect(run.outputs.results).toBeUndefined()
  })

  test('if-no-files-found: warn and ignore succeed without connecting', async () => {
    for (const mode of ['warn', 'ignore']) {
      const before = connections(host(2))
      const run = await runAction(
        inputs([host(2)], { source: 'nothing/**', 'if-no-files-found': mode }),
        {
          cwd: workspace({ 'a.txt': 'a' })
        }
      )
      expect(run.code, run.stdout).toBe(0)
      expect(run.stdout.includes('::warning::no files match')).toBe(mode === 'warn')
      expect(results(run)[0]).toMatchObject({ status: 'skipped', files: 0 })
      expect(run.outputs.files).toBe('0')
      expect(connections(host(2))).toBe(before)
    }
  })
})

describe('password authentication', () => {
  test('a password alone, and a key tried before the password when both are given', async () => {
    const server = await startPasswordServer({
      address: '127.0.0.1',
      user: 'deployer',
      password: 'pa55 w0rd'
    })
    try {
      const base = {
        host: `deployer@${server.entry}`,
        'known-hosts': server.knownHosts,
        source: '**',
        target: 'pw'
      }
      const ws = workspace({ 'p.txt': 'by password' })
      const alone = await runAction({ ...base, password: 'pa55 w0rd' }, { cwd: ws })
      expect(alone.code, alone.stdout).toBe(0)
      expect(server.methodsTried).toEqual(['password'])
      expect(treeDigest(`${server.home}/pw`)).toEqual({ 'p.txt': sha256('by password') })
      expect(alone.stdout).not.toContain('reading each file back')

      server.methodsTried.length = 0
      const both = await runAction(
        { ...base, key: fleet.keys.ed25519, password: 'pa55 w0rd', target: 'pw2' },
        { cwd: ws }
      )
      expect(both.code, both.stdout).toBe(0)
      expect(server.methodsTried).toEqual(['publickey', 'password'])

      server.methodsTried.length = 0
      const wrong = await runAction({ ...base, password: 'nope', target: 'pw3' }, { cwd: ws })
      expect(wrong.code).toBe(1)
      expect(results(wrong)[0]).toMatchObject({ status: 'failed', attempts: 1 })
      expect(results(wrong)[0]?.error).toMatch(/authentication failed/)
      expect(wrong.stdout).not.toMatch(/(^|[^:])nope/m)
    } finally {
      await server.stop()
    }
  })
})
