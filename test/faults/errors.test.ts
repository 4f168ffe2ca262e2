// Each kind of failure: tried once when another attempt cannot help, with a message a user can
// act on and the previous version of every file intact; retried when it can.

import { readFileSync, symlinkSync } from 'node:fs'
import { describe, expect, test } from 'vitest'
import { sshKeygen } from '../helpers/keys.js'
import { pseudoRandomBytes, workspace } from '../helpers/workspace.js'
import {
  fleetInputs,
  proxiedInputs,
  results,
  runAction,
  sha256,
  treeDigest
} from '../harness/run-action.js'
import { startSilentListener } from '../harness/ssh2-server.js'
import { useFleet, type TestHost } from '../harness/sshd.js'
import { startProxy } from '../harness/tcp-proxy.js'

const fleet = useFleet({
  count: 7,
  host: (index) =>
    index === 4
      ? { config: ['MaxSessions 1'] }
      : index === 5
        ? { config: ['MaxStartups 1'] }
        : index === 6
          ? { config: ['MaxSessions 2'] }
          : {}
})

/** `count` small files under many/. */
function manySmall(count: number): Record<string, string> {
  const files: Record<string, string> = {}
  for (let i = 0; i < count; i += 1) files[`many/${i}.txt`] = `small ${i}`
  return files
}

/** What treeDigest should find where `files` landed. */
function digestsOf(files: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(files).map(([path, content]) => [path, sha256(content)]))
}

/** A run the preflight refused for want of room (on a tmpfs; elsewhere only that it failed). */
function expectRefusedByPreflight(
  run: Awaited<ReturnType<typeof runAction>>,
  mode: string,
  message: RegExp
): void {
  expect(run.code).toBe(1)
  const result = results(run)[0]
  expect(result?.attempts).toBe(1)
  if (mode !== 'tmpfs') return
  expect(result).toMatchObject({ errorClass: 'disk-full', bytes: 0 })
  expect(result?.error).toMatch(/preflight: not enough space on .*: .* free in/)
  expect(result?.error).toMatch(message)
}

/** Deploys `files` to `target`, expecting success in one attempt and each file there; its log. */
async function deploysWhole(
  host: TestHost,
  target: string,
  files: Record<string, string>
): Promise<string> {
  const run = await runAction(fleetInputs(fleet, [host], { target }), { cwd: workspace(files) })
  expect(run.code, run.stdout).toBe(0)
  expect(results(run)[0]).toMatchObject({ status: 'success', attempts: 1 })
  expect(treeDigest(host.path(target))).toEqual(digestsOf(files))
  return run.stdout
}

const temporaries = (tree: Record<string, string>): string[] =>
  Object.keys(tree).filter((path) => path.endsWith('.sfd-tmp'))

/** Deploys v1 of `files` to `target` on `host`, returning what is there afterwards. */
async function deployPrevious(
  host: TestHost,
  target: string,
  files: Record<string, string | Buffer>
): Promise<Record<string, string>> {
  const run = await runAction(fleetInputs(fleet, [host], { target }), { cwd: workspace(files) })
  expect(run.code, run.stdout).toBe(0)
  return treeDigest(host.path(target))
}

describe('failures that another attempt cannot fix: 1 attempt, a message to act on, the previous version intact', () => {
  test('disk full', async () => {
    const host = fleet.host(0)
    const mode = host.limitedDirectory('full', 1024)
    const before = await deployPrevious(host, 'full', {
      'app.bin': pseudoRandomBytes(400 * 1024, 1)
    })
    // With root, a 1 MiB tmpfs: 400 KiB stand, 800 KiB more do not fit beside them. Without root,
    // the server's file size limit (1 MiB) refuses a 1.5 MiB file.
    const next = { 'app.bin': pseudoRandomBytes(mode === 'tmpfs' ? 800 * 1024 : 1536 * 1024, 2) }

    const withPreflight = await runAction(fleetInputs(fleet, [host], { target: 'full' }), {
      cwd: workspace(next)
    })
    expectRefusedByPreflight(withPreflight, mode, /free in '.*full', 800.0 KiB to send/)

    const writing = await runAction(
      fleetInputs(fleet, [host], { target: 'full', preflight: 'false' }),
      {
        cwd: workspace(next)
      }
    )
    expect(writing.code).toBe(1)
    const written = results(writing)[0]
    expect(written?.attempts).toBe(1)
    if (mode === 'tmpfs') {
      expect(written?.errorClass).toBe('disk-full')
      expect(written?.error).toMatch(/disk full on .* while writing 'app.bin': .* free in '.*full'/)
    } else {
      expect(written?.errorClass).toBe('remote-failure')
      expect(written?.error).toMatch(/not for lack of space: a quota or file size limit/)
    }
    const after = treeDigest(host.path('full'))
    expect(temporaries(after)).toEqual([])
    expect(after).toEqual(before)
  })

  test('disk full, with many small files for a new target: the shell finds no room, SFTP says so', async () => {
    const host = fleet.host(0)
    const mode = host.limitedDirectory('full-many', 1024)
    const files: Record<string, Buffer> = {}
    // 1.2 MiB in all: more than the 1 MiB tmpfs (or the file size limit) holds.
    for (let i = 0; i < 40; i += 1) files[`site/f${i}.bin`] = pseudoRandomBytes(30 * 1024, i)
    const run = await runAction(fleetInputs(fleet, [host], { target: 'full-many/new' }), {
      cwd: workspace(files)
    })
    expectRefusedByPreflight(run, mode, /free in '.*new', 1.17 MiB to send/)
    const after = treeDigest(host.path('full-many'))
    expect(Object.keys(after).filter((path) => !path.startsWith('new/'))).toEqual([])
  })

  test('permission denied', async () => {
    const host = fleet.host(1)
    const before = await deployPrevious(host, 'ro', { 'a.txt': 'v1', 'b/c.txt': 'v1' })
    host.setSftpServerFlags(['-R'])
    try {
      for (const preflight of ['true', 'false']) {
        const run = await runAction(fleetInputs(fleet, [host], { target: 'ro', preflight }), {
          cwd: workspace({ 'a.txt': 'v2', 'b/c.txt': 'v2' })
        })
        expect(run.code).toBe(1)
        expect(results(run)[0]).toMatchObject({
          status: 'failed',
          attempts: 1,
          errorClass: 'permission',
          bytes: 0
        })
        expect(results(run)[0]?.error).toMatch(
          preflight === 'true'
            ? /preflight: cannot write in target .*permission denied/
            : /permission denied/
        )
      }
    } finally {
      host.setSftpServerFlags([])
    }
    expect(treeDigest(host.path('ro'))).toEqual(before)
  })

  test('many small files to a new target: the hashing shell makes it, but it takes SFTP to publish, which is refused', async () => {
    const host = fleet.host(1)
    const files = manySmall(40)
    host.setSftpServerFlags(['-R'])
    try {
      const run = await runAction(fleetInputs(fleet, [host], { target: 'ro-new' }), {
        cwd: workspace(files)
      })
      expect(run.code).toBe(1)
      expect(results(run)[0]).toMatchObject({ status: 'failed', errorClass: 'permission' })
      expect(results(run)[0]?.error).toMatch(/permission denied/)
    } finally {
      host.setSftpServerFlags([])
    }
    // Nothing was published, and the staging directory is gone.
    expect(treeDigest(host.path('ro-new'))).toEqual({})
  })

  test('a read-only host that already has every file is up to date: nothing to write, no failure', async () => {
    const host = fleet.host(1)
    const files = { 'a.txt': 'same', 'b/c.txt': 'same' }
    const before = await deployPrevious(host, 'ro-same', files)
    host.setSftpServerFlags(['-R'])
    try {
      const run = await runAction(fleetInputs(fleet, [host], { target: 'ro-same' }), {
        cwd: workspace(files)
      })
      expect(run.code, run.stdout).toBe(0)
      expect(results(run)[0]).toMatchObject({ status: 'success', uploaded: 0, skipped: 2 })
    } finally {
      host.setSftpServerFlags([])
    }
    expect(treeDigest(host.path('ro-same'))).toEqual(before)
  })

  test('host key mismatch', async () => {
    const host = fleet.host(2)
    const before = await deployPrevious(host, 'hk', { 'a.txt': 'v1' })
    const other = sshKeygen('ed25519').publicKey.split(' ').slice(0, 2).join(' ')
    const run = await runAction(
      fleetInputs(fleet, [host], {
        target: 'hk',
        'known-hosts': `[${host.address}]:${host.port} ${other}`
      }),
      { cwd: workspace({ 'a.txt': 'v2' }) }
    )
    expect(run.code).toBe(1)
    expect(results(run)[0]).toMatchObject({ attempts: 1, errorClass: 'host-key', bytes: 0 })
    expect(results(run)[0]?.error).toContain(host.fingerprints[0])
    expect(treeDigest(host.path('hk'))).toEqual(before)
  })

  test('authentication failure', async () => {
    const host = fleet.host(2)
    const run = await runAction(
      fleetInputs(fleet, [host], { target: 'auth', key: sshKeygen('ed25519').privateKey }),
      {
        cwd: workspace({ 'a.txt': 'v2' })
      }
    )
    expect(run.code).toBe(1)
    expect(results(run)[0]).toMatchObject({ attempts: 1, errorClass: 'auth' })
  })

  test('no such directory: a target below a dangling symbolic link', async () => {
    const host = fleet.host(2)
    symlinkSync(host.path('nowhere'), host.path('dangling'))
    const run = await runAction(fleetInputs(fleet, [host], { target: 'dangling/site' }), {
      cwd: workspace({ 'a.txt': 'x' })
    })
    expect(run.code).toBe(1)
    expect(results(run)[0]).toMatchObject({ attempts: 1, errorClass: 'no-such-path' })
    expect(results(run)[0]?.error).toMatch(/cannot create directory '.*dangling'/)
  })

  test('a server that refuses the atomic rename: reported, with the way out', async () => {
    const host = fleet.host(3)
    const before = await deployPrevious(host, 'norename', { 'a.txt': 'v1' })
    host.setSftpServerFlags(['-P', 'posix-rename'])
    try {
      const run = await runAction(fleetInputs(fleet, [host], { target: 'norename' }), {
        cwd: workspace({ 'a.txt': 'v2' })
      })
      expect(run.code).toBe(1)
      expect(results(run)[0]).toMatchObject({ attempts: 1, errorClass: 'protocol' })
      const after = treeDigest(host.path('norename'))
      expect(temporaries(after)).toEqual([])
      expect(after).toEqual(before)
    } finally {
      host.setSftpServerFlags([])
    }
  })
})

describe('failures worth a retry', () => {
  test('a connection reset mid-transfer is retried and the files arrive whole', async () => {
    const host = fleet.host(3)
    const file = pseudoRandomBytes(4 * 1024 * 1024, 9)
    const proxy = await startProxy(host, [{ resetAfter: 2 * 1024 * 1024 }])
    try {
      const run = await runAction(proxiedInputs(fleet, proxy, host, { target: 'reset' }), {
        cwd: workspace({ 'app.bin': file })
      })
      expect(run.code, run.stdout).toBe(0)
      expect(results(run)[0]).toMatchObject({ status: 'success', attempts: 2 })
      expect(run.stdout).toMatch(/attempt 1 failed after \S+ \((network|connection-lost)\)/)
      expect(treeDigest(host.path('reset'))).toEqual({ 'app.bin': sha256(file) })
    } finally {
      await proxy.stop()
    }
  })

  test('a lost SFTP channel (its server killed) is retried', async () => {
    const host = fleet.host(0)
    const file = pseudoRandomBytes(6 * 1024 * 1024, 10)
    const proxy = await startProxy(host, [{ bytesPerSecond: 4 * 1024 * 1024 }])
    let killed = 0
    try {
      const run = await runAction(proxiedInputs(fleet, proxy, host, { target: 'lost' }), {
        cwd: workspace({ 'app.bin': file }),
        onSpawn: () => {
          const poll = setInterval(() => {
            if ((proxy.connections[0]?.upstream ?? 0) < 1024 * 1024) return
            clearInterval(poll)
            for (const pid of host.sessionPids()) {
              const program = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? ''
              if (!program.endsWith('sftp-server')) continue
              process.kill(pid, 'SIGKILL')
              killed += 1
            }
          }, 20)
        }
      })
      expect(killed).toBe(1)
      expect(run.code, run.stdout).toBe(0)
      expect(results(run)[0]).toMatchObject({ status: 'success', attempts: 2 })
      expect(run.stdout).toMatch(/attempt 1 failed after \S+ \(connection-lost\)/)
      expect(treeDigest(host.path('lost'))).toEqual({ 'app.bin': sha256(file) })
    } finally {
      await proxy.stop()
    }
  })

  test('an sshd killed mid-transfer and restarted: the retry finishes the deploy', async () => {
    const host = fleet.host(1)
    const file = pseudoRandomBytes(6 * 1024 * 1024, 11)
    const proxy = await startProxy(host, [{ bytesPerSecond: 4 * 1024 * 1024 }])
    let restarted: Promise<void> | undefined
    try {
      const run = await runAction(
        proxiedInputs(fleet, proxy, host, { target: 'killed', 'retry-delay': '1s' }),
        {
          cwd: workspace({ 'app.bin': file }),
          onSpawn: () => {
            const poll = setInterval(() => {
              if ((proxy.connections[0]?.upstream ?? 0) < 1024 * 1024) return
              clearInterval(poll)
              restarted = host.kill().then(() => host.restart())
            }, 20)
          }
        }
      )
      await restarted
      expect(run.code, run.stdout).toBe(0)
      expect(results(run)[0]?.status).toBe('success')
      expect(results(run)[0]?.attempts).toBeGreaterThanOrEqual(2)
      expect(treeDigest(host.path('killed'))).toEqual({ 'app.bin': sha256(file) })
    } finally {
      await proxy.stop()
    }
  })

  test('a server that never answers fails within connect-timeout + 2 s', async () => {
    const silent = await startSilentListener('127.0.0.1')
    try {
      const run = await runAction(
        {
          ...fleetInputs(fleet, [], { retries: '0', 'connect-timeout': '1s' }),
          host: silent.entry,
          'known-hosts': silent.knownHosts
        },
        { cwd: workspace({ 'a.txt': 'x' }) }
      )
      expect(run.code).toBe(1)
      const [result] = results(run)
      expect(result).toMatchObject({ attempts: 1, errorClass: 'timeout' })
      expect(result?.durationMs).toBeLessThanOrEqual(1000 + 2000)
    } finally {
      await silent.stop()
    }
  })
})

describe('server limits', () => {
  test('MaxSessions 1: the one session is SFTP, and verification reads files back', async () => {
    const host = fleet.host(4)
    const files = { 'a.bin': pseudoRandomBytes(300_000, 3), 'b/c.txt': 'c' }
    const run = await runAction(fleetInputs(fleet, [host], { target: 'maxsessions' }), {
      cwd: workspace(files)
    })
    expect(run.code, run.stdout).toBe(0)
    expect(results(run)[0]).toMatchObject({ status: 'success', attempts: 1, uploaded: 2 })
    expect(run.stdout).toContain('verifying by reading each file back over SFTP')
    expect(treeDigest(host.path('maxsessions'))).toEqual({
      'a.bin': sha256(files['a.bin']),
      'b/c.txt': sha256('c')
    })
  })

  test('MaxSessions 1 with many small files: the hashing shell, asked for first, makes way for SFTP', async () => {
    const host = fleet.host(4)
    const files = manySmall(40)
    // The shell extracts the stream and hashes it, then makes way for SFTP to publish.
    await deploysWhole(host, 'one-session', files)
    // Again with one file changed: the shell makes way at once, and files are read back.
    files['many/7.txt'] = 'changed'
    const again = await deploysWhole(host, 'one-session', files)
    expect(again).toContain('verifying by reading each file back over SFTP')
  })

  test('MaxSessions 2: SFTP, a hashing shell, and whatever else fits; many small files still land', async () => {
    await deploysWhole(fleet.host(6), 'two-sessions', manySmall(60))
  })

  test('MaxStartups refusals are retried until the server has room', async () => {
    const host = fleet.host(5)
    // Hold the server's one unauthenticated slot, then let go after a second.
    const { connect } = await import('node:net')
    const hog = connect({ host: host.address, port: host.port })
    await new Promise<void>((resolve) => hog.once('data', () => resolve()))
    const release = setTimeout(() => hog.destroy(), 1200)
    try {
      const run = await runAction(
        fleetInputs(fleet, [host], { target: 'maxstartups', retries: '5', 'retry-delay': '300ms' }),
        { cwd: workspace({ 'a.txt': 'after a refusal' }) }
      )
      expect(run.code, run.stdout).toBe(0)
      expect(results(run)[0]?.attempts).toBeGreaterThanOrEqual(2)
      expect(run.stdout).toMatch(/attempt 1 failed after \S+ \((network|connection-lost)\)/)
      expect(readFileSync(host.path('maxstartups/a.txt'), 'utf8')).toBe('after a refusal')
    } finally {
      clearTimeout(release)
      hog.destroy()
    }
  })
})
