// The action as the runner runs it (node dist/index.js), against real OpenSSH servers.

import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { hashKnownHosts } from '../helpers/keys.js'
import { pseudoRandomBytes, workspace } from '../helpers/workspace.js'
import {
  fleetInputs,
  proxiedInputs,
  results,
  runAction,
  sha256,
  treeDigest
} from '../harness/run-action.js'
import { startProxy } from '../harness/tcp-proxy.js'
import { commandsWithout, useFleet, type TestHost } from '../harness/sshd.js'

const fleet = useFleet({
  count: 5,
  host: (index) =>
    index === 3 ? { hostKeyTypes: ['ed25519', 'rsa'] } : index === 4 ? { sftpOnly: true } : {}
})

const host = (index: number): TestHost => fleet.host(index)

const baseInputs = (
  hosts: TestHost[],
  extra: Record<string, string> = {}
): Record<string, string> => fleetInputs(fleet, hosts, extra)

/** Files with `.sfd-tmp` anywhere below a directory: there must never be any after a run. */
function leftoverTemporaries(dir: string): string[] {
  if (!existsSync(dir)) return []
  return Object.keys(treeDigest(dir)).filter((path) => path.endsWith('.sfd-tmp'))
}

describe('deploying to several real hosts', () => {
  test('three hosts in mixed entry forms get byte-identical files; outputs and summary report each', async () => {
    const big = pseudoRandomBytes(20 * 1024 * 1024, 7)
    const files: Record<string, string | Buffer> = { 'site/big.bin': big }
    for (let i = 0; i < 10; i += 1) files[`site/small/${i}.txt`] = `small file ${i}\n`.repeat(i + 1)
    const ws = workspace(files)
    const [a, b, c] = [host(0), host(1), host(2)]
    const run = await runAction(
      {
        ...baseInputs([]),
        // user@host:port, host:port with the username input, and host alone with the port input.
        host: `${fleet.user}@${a.entry}, ${b.entry}\n\n${c.address}`,
        port: String(c.port),
        source: 'site/**',
        target: 'releases/current',
        'strip-components': '1'
      },
      { cwd: ws }
    )
    expect(run.code, run.stdout).toBe(0)

    const expected: Record<string, string> = {}
    for (const [path, content] of Object.entries(files))
      expected[path.replace(/^site\//, '')] = sha256(content)
    for (const h of [a, b, c]) {
      expect(treeDigest(h.path('releases/current'))).toEqual(expected)
      expect(leftoverTemporaries(h.home)).toEqual([])
    }

    const total = Object.values(files).reduce((sum, file) => sum + file.length, 0)
    const labels = [a, b, c].map((h) => `${fleet.user}@${h.address}:${h.port}`)
    expect(results(run).map((r) => r.host)).toEqual(labels)
    for (const result of results(run)) {
      expect(result).toMatchObject({
        status: 'success',
        files: 11,
        uploaded: 11,
        skipped: 0,
        attempts: 1
      })
      expect(result.bytes).toBe(total)
    }
    expect(JSON.parse(run.outputs['succeeded-hosts'] ?? '')).toEqual(labels)
    expect(run.outputs['failed-hosts']).toBe('[]')
    expect(run.outputs['succeeded-count']).toBe('3')
    expect(run.outputs['failed-count']).toBe('0')
    expect(run.outputs.files).toBe('11')
    expect(Number(run.outputs.bytes)).toBe(3 * total)
    for (const label of labels)
      expect(run.summary).toContain(`| ${label} | ✅ success | 11 | 11 | 0 |`)
    // Each host's log is one group.
    for (const label of labels) expect(run.stdout).toContain(`::group::${label}: success`)
  })

  test('a redeploy of unchanged files sends nothing and reports them skipped', async () => {
    const ws = workspace({ 'a.txt': 'alpha', 'b/c.txt': 'gamma' })
    const inputs = baseInputs([host(0)], { source: '**', target: 'redeploy' })
    const first = await runAction(inputs, { cwd: ws })
    expect(first.code, first.stdout).toBe(0)
    // A target the run creates has nothing to compare with.
    expect(first.stdout).toContain('on the host (new)')
    const second = await runAction(inputs, { cwd: ws })
    expect(second.code, second.stdout).toBe(0)
    expect(results(second)[0]).toMatchObject({
      status: 'success',
      uploaded: 0,
      skipped: 2,
      bytes: 0
    })
    expect(treeDigest(host(0).path('redeploy'))).toEqual({
      'a.txt': sha256('alpha'),
      'b/c.txt': sha256('gamma')
    })
    // Same size, other content: found out by its hash, and sent.
    writeFileSync(join(ws, 'a.txt'), 'ALPHA')
    const third = await runAction(inputs, { cwd: ws })
    expect(third.code, third.stdout).toBe(0)
    expect(results(third)[0]).toMatchObject({ uploaded: 1, skipped: 1, bytes: 5 })
    expect(treeDigest(host(0).path('redeploy'))['a.txt']).toBe(sha256('ALPHA'))
  })

  test('an SFTP server that starts elsewhere (sftp-server -d): a look-alike target under the login directory is not taken for it', async () => {
    const files = { 'a.txt': 'alpha', 'b/c.txt': 'gamma' }
    const ws = workspace(files)
    const inputs = baseInputs([host(1)], { source: '**', target: 'lookalike' })
    // The shells start in the login directory: there, a copy of what is to be sent.
    const first = await runAction(inputs, { cwd: ws })
    expect(first.code, first.stdout).toBe(0)
    // The SFTP server starts in another directory, where the target holds old versions.
    const elsewhere = host(1).path('elsewhere')
    mkdirSync(elsewhere)
    const old = workspace({ 'a.txt': 'ALPHA', 'b/c.txt': 'GAMMA' })
    host(1).setSftpServerFlags(['-d', elsewhere])
    try {
      const seed = await runAction(inputs, { cwd: old })
      expect(seed.code, seed.stdout).toBe(0)
      expect(treeDigest(join(elsewhere, 'lookalike'))['a.txt']).toBe(sha256('ALPHA'))
      const run = await runAction(inputs, { cwd: ws })
      expect(run.code, run.stdout).toBe(0)
      expect(run.stdout).toContain(`is ${join(elsewhere, 'lookalike')} on the host`)
      expect(results(run)[0]).toMatchObject({ status: 'success', uploaded: 2, skipped: 0 })
      expect(treeDigest(join(elsewhere, 'lookalike'))).toEqual({
        'a.txt': sha256('alpha'),
        'b/c.txt': sha256('gamma')
      })
      // The look-alike was only ever read.
      expect(treeDigest(host(1).path('lookalike'))).toEqual({
        'a.txt': sha256('alpha'),
        'b/c.txt': sha256('gamma')
      })
    } finally {
      host(1).setSftpServerFlags([])
    }
  })

  // With df the shell makes the target and takes the tar stream, dropped once SFTP is up; without
  // it the shell makes the target but cannot say its room, and takes no stream.
  test.each([
    { hostHas: 'df', missing: [], target: 'many-new' },
    { hostHas: 'no df', missing: ['df'], target: 'nodf-new' }
  ])(
    'an SFTP server that starts elsewhere, many small files, $hostHas: they land where SFTP sees the target, and nothing is left where the shell made it',
    async ({ missing, target }) => {
      const files: Record<string, string> = {}
      for (let i = 0; i < 40; i += 1) files[`d${i % 4}/f${i}.txt`] = `file ${i}`
      const elsewhere = host(1).path(`elsewhere-${target}`)
      mkdirSync(elsewhere)
      host(1).setSftpServerFlags(['-d', elsewhere])
      host(1).setCommandPath(missing.length === 0 ? undefined : commandsWithout(...missing))
      try {
        const run = await runAction(baseInputs([host(1)], { source: '**', target }), {
          cwd: workspace(files)
        })
        expect(run.code, run.stdout).toBe(0)
        expect(run.stdout).toContain(`is ${join(elsewhere, target)} on the host (new)`)
        expect(treeDigest(join(elsewhere, target))).toEqual(
          Object.fromEntries(
            Object.entries(files).map(([path, content]) => [path, sha256(content)])
          )
        )
        expect(existsSync(host(1).path(target))).toBe(false)
      } finally {
        host(1).setSftpServerFlags([])
        host(1).setCommandPath(undefined)
      }
    }
  )

  test('excludes apply, hidden files are sent, working-directory is the base of the paths', async () => {
    const ws = workspace({
      'build/dist/app.js': 'app',
      'build/dist/app.js.map': 'map',
      'build/dist/.htaccess': 'deny from all',
      'build/dist/.well-known/security.txt': 'contact',
      'build/other.txt': 'not matched'
    })
    const run = await runAction(
      baseInputs([host(1)], {
        'working-directory': 'build',
        source: 'dist/**\n!**/*.map',
        target: '/' + host(1).path('abs-target').replace(/^\//, '')
      }),
      { cwd: ws }
    )
    expect(run.code, run.stdout).toBe(0)
    expect(treeDigest(host(1).path('abs-target'))).toEqual({
      'dist/.htaccess': sha256('deny from all'),
      'dist/.well-known/security.txt': sha256('contact'),
      'dist/app.js': sha256('app')
    })
  })

  test('odd file names and a target full of shell metacharacters arrive literally and run nothing', async () => {
    const names = [
      'with space.txt',
      "it's quoted.txt",
      '"double".txt',
      '$(touch PWNED-subst).txt',
      '`touch PWNED-backtick`.txt',
      'semi;colon&amp.txt',
      'new\nline.txt',
      'ünïcødé-日本語.txt',
      '-rf',
      '*.txt'
    ]
    const files: Record<string, string> = {}
    names.forEach((name, index) => (files[`odd/${name}`] = `content ${index}`))
    const ws = workspace(files)
    const target = 't $(touch PWNED-target) `touch PWNED-tick` \'q\' "d" ;&|<>*?~'
    const run = await runAction(baseInputs([host(0)], { source: 'odd/**', target }), { cwd: ws })
    expect(run.code, run.stdout).toBe(0)
    const landed = treeDigest(host(0).path(target))
    const expected: Record<string, string> = {}
    names.forEach((name, index) => (expected[`odd/${name}`] = sha256(`content ${index}`)))
    expect(landed).toEqual(expected)
    // Verification ran remote commands over these names: nothing was executed anywhere.
    const everywhere = [host(0).home, ws, '/tmp']
    for (const dir of everywhere)
      expect(
        readdirSync(dir).filter((name) => name.startsWith('PWNED')),
        dir
      ).toEqual([])
    expect(run.stdout).not.toContain('reading each file back')
  })

  test('an encrypted PEM RSA key with its passphrase', async () => {
    const ws = workspace({ 'rsa.txt': 'via rsa' })
    const run = await runAction(
      baseInputs([host(2)], {
        key: fleet.keys.rsaPemEncrypted,
        passphrase: fleet.keys.passphrase,
        source: 'rsa.txt',
        target: 'rsa'
      }),
      { cwd: ws }
    )
    expect(run.code, run.stdout).toBe(0)
    expect(readFileSync(host(2).path('rsa/rsa.txt'), 'utf8')).toBe('via rsa')
    expect(run.stdout).toContain('auth ssh-rsa key')
    // The passphrase and the key are registered as secrets and never printed otherwise.
    const masked = run.stdout.split('\n').filter((line) => line.startsWith('::add-mask::'))
    expect(masked).toContain(`::add-mask::${fleet.keys.passphrase}`)
    const printed = run.stdout
      .split('\n')
      .filter((line) => !line.startsWith('::add-mask::'))
      .join('\n')
    expect(printed).not.toContain(fleet.keys.passphrase)
    const keyLine = fleet.keys.rsaPemEncrypted.split('\n')[4] ?? ''
    expect(keyLine.length).toBeGreaterThan(40)
    expect(masked).toContain(`::add-mask::${keyLine}`)
    expect(printed).not.toContain(keyLine)
  })

  test('host keys pinned by fingerprint, or by hashed known_hosts entries', async () => {
    const ws = workspace({ 'f.txt': 'pinned' })
    const byFingerprint = await runAction(
      baseInputs([host(0), host(1)], {
        'known-hosts': '',
        fingerprint: `${host(0).fingerprints.join('\n')}\n${host(1).fingerprints.join('\n')}`,
        source: 'f.txt',
        target: 'fp'
      }),
      { cwd: ws }
    )
    expect(byFingerprint.code, byFingerprint.stdout).toBe(0)
    expect(readFileSync(host(1).path('fp/f.txt'), 'utf8')).toBe('pinned')

    const hashed = hashKnownHosts(`${host(0).knownHosts}\n${host(2).knownHosts}\n`)
    expect(hashed).not.toContain(host(0).address)
    const byHashed = await runAction(
      baseInputs([host(0), host(2)], { 'known-hosts': hashed, source: 'f.txt', target: 'hashed' }),
      { cwd: ws }
    )
    expect(byHashed.code, byHashed.stdout).toBe(0)
    expect(readFileSync(host(2).path('hashed/f.txt'), 'utf8')).toBe('pinned')
  })

  test('a server with several host keys is offered only the type known-hosts lists', async () => {
    // Host 3 has ed25519 and RSA keys; ssh2 would pick ed25519 first, which is not listed.
    const rsaOnly = host(3)
      .knownHosts.split('\n')
      .filter((line) => line.includes('ssh-rsa'))
      .join('\n')
    expect(rsaOnly).toContain('ssh-rsa')
    const ws = workspace({ 'k.txt': 'rsa host key' })
    const run = await runAction(
      baseInputs([host(3)], { 'known-hosts': rsaOnly, source: 'k.txt', target: 'k' }),
      {
        cwd: ws
      }
    )
    expect(run.code, run.stdout).toBe(0)
    expect(readFileSync(host(3).path('k/k.txt'), 'utf8')).toBe('rsa host key')
  })

  test('an SFTP-only account (no shell) is verified by reading files back, and says so', async () => {
    const content = pseudoRandomBytes(3 * 1024 * 1024 + 17, 3)
    const ws = workspace({ 'data.bin': content, 'x/y.txt': 'y' })
    const run = await runAction(baseInputs([host(4)], { source: '**', target: 'sftp-only' }), {
      cwd: ws
    })
    expect(run.code, run.stdout).toBe(0)
    expect(run.stdout).toContain('reading each file back over SFTP')
    expect(treeDigest(host(4).path('sftp-only'))).toEqual({
      'data.bin': sha256(content),
      'x/y.txt': sha256('y')
    })
    expect(leftoverTemporaries(host(4).home)).toEqual([])
  })

  test('verify: size and atomic: false write in place', async () => {
    const ws = workspace({ 'p.txt': 'in place' })
    const run = await runAction(
      baseInputs([host(1)], {
        source: 'p.txt',
        target: 'inplace',
        verify: 'size',
        atomic: 'false'
      }),
      { cwd: ws }
    )
    expect(run.code, run.stdout).toBe(0)
    expect(readFileSync(host(1).path('inplace/p.txt'), 'utf8')).toBe('in place')
  })

  test('progress lines are printed outside the host groups while hosts run', async () => {
    const ws = workspace({ 'big.bin': pseudoRandomBytes(24 * 1024 * 1024, 11) })
    const run = await runAction(
      baseInputs([host(0), host(1)], { source: 'big.bin', target: 'progress' }),
      {
        cwd: ws,
        env: { SFD_PROGRESS_INTERVAL_MS: '20' }
      }
    )
    expect(run.code, run.stdout).toBe(0)
    let depth = 0
    const progress: string[] = []
    for (const line of run.stdout.split('\n')) {
      if (line.startsWith('::group::')) depth += 1
      else if (line.startsWith('::endgroup::')) depth -= 1
      else if (line.startsWith('progress: ')) {
        expect(depth, 'a progress line inside a group').toBe(0)
        progress.push(line)
      }
    }
    expect(progress.length).toBeGreaterThan(0)
    expect(progress[0]).toMatch(
      /^progress: \S+@127\.0\.\d+\.\d+:\d+: (connecting|checking|sending|verifying), \d+\/1 files, .*, attempt 1$/
    )
  })

  test('progress lines give bytes, rate and ETA while a host sends', async () => {
    const host = fleet.host(0)
    const proxy = await startProxy(host, [{ bytesPerSecond: 2 * 1024 * 1024 }])
    try {
      const ws = workspace({ 'slow.bin': pseudoRandomBytes(4 * 1024 * 1024, 12) })
      const run = await runAction(
        { ...proxiedInputs(fleet, proxy, host, { target: 'rate' }), source: 'slow.bin' },
        { cwd: ws, env: { SFD_PROGRESS_INTERVAL_MS: '250' } }
      )
      expect(run.code, run.stdout).toBe(0)
      const rated = run.stdout
        .split('\n')
        .filter((line) => line.startsWith('progress: '))
        .map((line) =>
          /sending, 0\/1 files, ([\d.]+) (B|KiB|MiB) of 4\.00 MiB, ([\d.]+) (KiB|MiB)\/s, ETA (\S+), attempt 1$/.exec(
            line
          )
        )
        .filter((match) => match !== null)
      expect(rated.length, run.stdout).toBeGreaterThan(0)
      // The proxy passes 2 MiB/s: the rate shown is of that order.
      const rates = rated.map((match) => Number(match[3]) * (match[4] === 'MiB' ? 1024 : 1))
      for (const rate of rates) expect(rate).toBeLessThan(4 * 1024)
      expect(Math.max(...rates)).toBeGreaterThan(512)
    } finally {
      await proxy.stop()
    }
  })

  test('file modes travel: an executable stays executable', async () => {
    const ws = workspace({ 'bin/run.sh': '#!/bin/sh\necho hi\n' })
    const { chmodSync, statSync } = await import('node:fs')
    chmodSync(join(ws, 'bin/run.sh'), 0o755)
    const run = await runAction(baseInputs([host(2)], { source: 'bin/**', target: 'modes' }), {
      cwd: ws
    })
    expect(run.code, run.stdout).toBe(0)
    expect(statSync(host(2).path('modes/bin/run.sh')).mode & 0o111).not.toBe(0)
  })
})
