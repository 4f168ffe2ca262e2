// `dry-run: true` against real OpenSSH servers: every host connected to and looked at, nothing
// written anywhere (every file, link and directory of the login directory the same, its mtime
// included), each host's plan in the log, the summary and `results[].planned`; and the real run
// with the same inputs then does exactly what the plan said.

import { symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { pseudoRandomBytes, workspace } from '../helpers/workspace.js'
import { plant, snapshotWithRoot, type EntrySnapshot } from '../harness/host-tree.js'
import {
  fleetInputs,
  hostLogLines,
  logOf,
  results,
  runAction,
  sha256,
  treeDigest,
  type ActionRun,
  type HostResultOutput
} from '../harness/run-action.js'
import { makeKeyPair, useFleet, type TestHost } from '../harness/sshd.js'

// Hosts 0–2 have a shell; host 3 is SFTP only.
const fleet = useFleet({ count: 4, host: (index) => (index === 3 ? { sftpOnly: true } : {}) })

const host = (index: number): TestHost => fleet.host(index)

interface PlannedCounts {
  readonly upload: number
  readonly unchanged: number
  readonly delete: number
}

type PlannedResult = HostResultOutput & { planned?: PlannedCounts; deleted?: number }

function plannedResults(run: ActionRun): PlannedResult[] {
  return results(run)
}

const MiB = 1024 * 1024

/** Every host's login directory, as lstat sees it: a snapshot per host. */
function homes(hosts: readonly TestHost[]): Record<string, EntrySnapshot>[] {
  return hosts.map((h) => snapshotWithRoot(h.home))
}

/** What treeDigest should find where `files` landed. */
function digestsOf(files: Record<string, string | Buffer>): Record<string, string> {
  return Object.fromEntries(Object.entries(files).map(([path, content]) => [path, sha256(content)]))
}

/** A host's group in a run's log, as one text. */
function hostLog(run: ActionRun, label: string): string {
  return hostLogLines(run, label).join('\n')
}

/**
 * A dry run of `inputs` on `hosts` writes nothing on any of them and plans `expected` for each;
 * then the real run with the same inputs succeeds and does just that.
 */
async function planThenDeploy(
  hosts: readonly TestHost[],
  inputs: Record<string, string>,
  cwd: string,
  expected: readonly PlannedCounts[]
): Promise<{ dry: ActionRun; real: ActionRun }> {
  const before = homes(hosts)
  const dry = await runAction({ ...inputs, 'dry-run': 'true' }, { cwd })
  expect(dry.code, logOf(dry)).toBe(0)
  expect(homes(hosts)).toEqual(before)
  const planned = plannedResults(dry)
  expect(planned.map((result) => result.status)).toEqual(hosts.map(() => 'planned'))
  expect(
    planned.map((result) => result.planned),
    logOf(dry)
  ).toEqual(expected)
  for (const result of planned)
    expect(result).toMatchObject({ uploaded: 0, skipped: 0, deleted: 0, bytes: 0 })

  const real = await runAction(inputs, { cwd })
  expect(real.code, logOf(real)).toBe(0)
  expect(
    plannedResults(real).map((result) => ({
      upload: result.uploaded,
      unchanged: result.skipped,
      delete: result.deleted
    })),
    logOf(real)
  ).toEqual(expected)
  for (const result of plannedResults(real)) expect(result.planned).toBeUndefined()
  return { dry, real }
}

/** The build most tests deploy: 21 files, one of them 2 MiB (compared by size first). */
function build(): Record<string, string | Buffer> {
  const files: Record<string, string | Buffer> = {
    'index.html': 'new index',
    'css/site.css': 'body {}',
    'js/app.js': 'app()',
    'media/big.bin': pseudoRandomBytes(2 * MiB, 3)
  }
  for (let i = 0; i < 17; i += 1) files[`pages/p${i}.html`] = `page ${i}`
  return files
}

describe('a dry run writes nothing and plans what the deploy then does', () => {
  test('hosts with a new target, a partly up-to-date one, and one with extraneous files (delete: true, keep): nothing changes on any, and the real run does what the plan said', async () => {
    const [fresh, partly, extraneous] = [host(0), host(1), host(2)]
    const files = build()
    const target = 'site'
    // Partly up to date: 12 files as built (the big one too), 2 changed or missing, 7 missing.
    const partlyTree: Record<string, string | Buffer> = {
      'index.html': 'old index',
      'css/site.css': 'body {}',
      'media/big.bin': files['media/big.bin'] as Buffer
    }
    for (let i = 0; i < 10; i += 1) partlyTree[`pages/p${i}.html`] = `page ${i}`
    plant(partly.path(target), partlyTree)
    // Up to date but for 3 files (the big one the same size, other bytes), with 4 files or
    // links the build does not have, and directories they are in or that are empty.
    plant(extraneous.home, { 'outside/precious.txt': 'precious' })
    const extraneousTree: Record<string, string | Buffer> = {
      ...files,
      'css/site.css': 'body { color: red }',
      'media/big.bin': pseudoRandomBytes(2 * MiB, 4)
    }
    delete extraneousTree['js/app.js']
    plant(extraneous.path(target), {
      ...extraneousTree,
      'stale.txt': 'stale',
      'old/a.txt': 'a',
      'old/deep/b.txt': 'b',
      'link-out': { link: '../outside' },
      empty: { dir: true },
      '.env': 'SECRET=1' // kept
    })
    const hosts = [fresh, partly, extraneous]
    const inputs = fleetInputs(fleet, hosts, { target, delete: 'true', keep: '.env' })
    const expected = [
      { upload: 21, unchanged: 0, delete: 0 },
      { upload: 9, unchanged: 12, delete: 0 },
      { upload: 3, unchanged: 18, delete: 4 }
    ]
    const cwd = workspace(files)
    const { dry, real } = await planThenDeploy(hosts, inputs, cwd, expected)

    // The plan in the log: counts, and the names to send and to delete.
    const [freshLabel, partlyLabel, extraneousLabel] = plannedResults(dry).map((r) => r.host)
    expect(hostLog(dry, freshLabel ?? '')).toContain(
      'plan: 21 file(s) to send, 0 unchanged, 0 to delete'
    )
    expect(hostLog(dry, freshLabel ?? '')).toContain('dry run: nothing is written')
    expect(hostLog(dry, partlyLabel ?? '')).toContain(
      'plan: 9 file(s) to send, 12 unchanged, 0 to delete'
    )
    expect(hostLog(dry, partlyLabel ?? '')).toMatch(/^to send: .*index\.html/m)
    const extraneousLog = hostLog(dry, extraneousLabel ?? '')
    expect(extraneousLog).toContain('plan: 3 file(s) to send, 18 unchanged, 4 to delete')
    const toDelete = /^to delete: (.*)$/m.exec(extraneousLog)?.[1]?.split(', ').sort()
    expect(toDelete, extraneousLog).toEqual([
      'link-out',
      'old/a.txt',
      'old/deep/b.txt',
      'stale.txt'
    ])
    expect(/^to send: (.*)$/m.exec(extraneousLog)?.[1]?.split(', ').sort()).toEqual([
      'css/site.css',
      'js/app.js',
      'media/big.bin'
    ])
    expect(logOf(dry)).toContain('3 of 3 host(s) planned (dry run: nothing was written)')
    // And in the summary: a Plan column, each host planned.
    expect(dry.summary).toContain('Dry run')
    expect(dry.summary).toMatch(/\| Host \| Plan \| Status \|/)
    expect(dry.summary).toContain('| 21 to send, 0 unchanged, 0 to delete | 📋 planned |')
    expect(dry.summary).toContain('| 3 to send, 18 unchanged, 4 to delete | 📋 planned |')

    // The real run did it: every host has exactly the build.
    for (const h of [fresh, partly]) expect(treeDigest(h.path(target))).toEqual(digestsOf(files))
    expect(treeDigest(extraneous.path(target))).toEqual(digestsOf({ ...files, '.env': 'SECRET=1' }))
    expect(plannedResults(real).map((result) => result.status)).toEqual([
      'success',
      'success',
      'success'
    ])
    // A dry run now finds nothing to do.
    const before = homes(hosts)
    const again = await runAction({ ...inputs, 'dry-run': 'true' }, { cwd })
    expect(again.code, logOf(again)).toBe(0)
    expect(plannedResults(again).map((result) => result.planned)).toEqual(
      hosts.map(() => ({ upload: 0, unchanged: 21, delete: 0 }))
    )
    expect(homes(hosts)).toEqual(before)
  })

  test('without delete a dry run counts nothing to delete, extraneous files or not', async () => {
    const h = host(2)
    const target = 'no-delete'
    plant(h.path(target), { 'index.html': 'index', 'stale.txt': 'stale', 'old/a.txt': 'a' })
    const before = homes([h])
    const run = await runAction(fleetInputs(fleet, [h], { target, 'dry-run': 'true' }), {
      cwd: workspace({ 'index.html': 'index', 'new.txt': 'new' })
    })
    expect(run.code, logOf(run)).toBe(0)
    expect(plannedResults(run)[0]?.planned).toEqual({ upload: 1, unchanged: 1, delete: 0 })
    expect(logOf(run)).toContain('plan: 1 file(s) to send, 1 unchanged\n')
    expect(logOf(run)).not.toContain('to delete')
    expect(run.summary).toContain('| 1 to send, 1 unchanged | 📋 planned |')
    expect(homes([h])).toEqual(before)
  })

  test('max-delete applies to a dry run: the host fails as the real run would, and nothing is written', async () => {
    const [limited, fine] = [host(1), host(0)]
    const target = 'limited'
    plant(limited.path(target), { 'stale1.txt': '1', 'stale2.txt': '2', 'old/stale3.txt': '3' })
    const before = homes([limited, fine])
    const run = await runAction(
      fleetInputs(fleet, [limited, fine], {
        target,
        delete: 'true',
        'max-delete': '2',
        'dry-run': 'true'
      }),
      { cwd: workspace({ 'index.html': 'index' }) }
    )
    expect(run.code, logOf(run)).toBe(1)
    const [refused, planned] = plannedResults(run)
    expect(refused, logOf(run)).toMatchObject({
      status: 'failed',
      errorClass: 'delete-limit',
      attempts: 1
    })
    expect(refused?.error).toMatch(/\b3 file\(s\)/)
    expect(refused?.error).toContain('max-delete (2)')
    expect(planned).toMatchObject({
      status: 'planned',
      planned: { upload: 1, unchanged: 0, delete: 0 }
    })
    expect(homes([limited, fine])).toEqual(before)
  })
})

describe('the plan counts as the deploy compares', () => {
  test.each([{ verify: 'size' }, { verify: 'none' }])(
    'verify: $verify: every file is to send, as the deploy sends them all, identical or not',
    async ({ verify }) => {
      const h = host(0)
      const target = `verify-${verify}`
      const files = build()
      // All identical but one, and one extraneous file.
      plant(h.path(target), { ...files, 'index.html': 'old index', 'stale.txt': 'stale' })
      await planThenDeploy(
        [h],
        fleetInputs(fleet, [h], { target, verify, delete: 'true' }),
        workspace(files),
        [{ upload: 21, unchanged: 0, delete: 1 }]
      )
      expect(treeDigest(h.path(target))).toEqual(digestsOf(files))
    }
  )

  test('follow-symbolic-links: false: a link already there with the same text is unchanged, one with other text or none is to send', async () => {
    const h = host(1)
    const target = 'links'
    const files = { 'real.txt': 'real', 'other.txt': 'other', 'index.html': 'index' }
    const cwd = workspace(files)
    symlinkSync('real.txt', join(cwd, 'same-link'))
    symlinkSync('other.txt', join(cwd, 'changed-link'))
    symlinkSync('real.txt', join(cwd, 'new-link'))
    plant(h.path(target), {
      ...files,
      'same-link': { link: 'real.txt' },
      'changed-link': { link: 'real.txt' },
      'stale-link': { link: 'real.txt' }
    })
    await planThenDeploy(
      [h],
      fleetInputs(fleet, [h], { target, 'follow-symbolic-links': 'false', delete: 'true' }),
      cwd,
      [{ upload: 2, unchanged: 4, delete: 1 }]
    )
  })

  test('an SFTP-only host (no shell to hash with): files are compared by reading them back, and the plan still matches', async () => {
    const h = host(3)
    const target = 'sftp-only'
    const files = build()
    plant(h.path(target), {
      ...files,
      'index.html': 'old index', // other size
      'pages/p0.html': 'page X', // same size, other bytes
      'media/big.bin': pseudoRandomBytes(2 * MiB, 5), // same size, other bytes
      'stale.txt': 'stale',
      'old/a.txt': 'a'
    })
    const { dry } = await planThenDeploy(
      [h],
      fleetInputs(fleet, [h], { target, delete: 'true' }),
      workspace(files),
      [{ upload: 3, unchanged: 18, delete: 2 }]
    )
    expect(logOf(dry)).toContain('reading each file back')
    expect(treeDigest(h.path(target))).toEqual(digestsOf(files))
  })
})

describe('a dry run checks what a deploy checks', () => {
  test('a host whose key is not the one trusted fails (exit 1) and nothing is written on it; the others are planned', async () => {
    const [impostor, trusted] = [host(0), host(1)]
    const target = 'host-key'
    plant(impostor.path(target), { 'index.html': 'old', 'stale.txt': 'stale' })
    plant(trusted.path(target), { 'index.html': 'old' })
    // known_hosts has the impostor's address with another host's key.
    const wrongKey = trusted.knownHosts.replace(
      `[${trusted.address}]:${trusted.port}`,
      `[${impostor.address}]:${impostor.port}`
    )
    const before = homes([impostor, trusted])
    const run = await runAction(
      fleetInputs(fleet, [impostor, trusted], {
        target,
        delete: 'true',
        'dry-run': 'true',
        'known-hosts': `${wrongKey}\n${trusted.knownHosts}`
      }),
      { cwd: workspace({ 'index.html': 'new' }) }
    )
    expect(run.code, logOf(run)).toBe(1)
    const [failed, planned] = plannedResults(run)
    expect(failed, logOf(run)).toMatchObject({ status: 'failed', errorClass: 'host-key' })
    expect(failed?.planned).toBeUndefined()
    expect(planned).toMatchObject({
      status: 'planned',
      planned: { upload: 1, unchanged: 0, delete: 0 }
    })
    expect(homes([impostor, trusted])).toEqual(before)
  })

  test('a key the hosts do not accept fails every host (auth), nothing written', async () => {
    const hosts = [host(0), host(2)]
    const before = homes(hosts)
    const run = await runAction(
      fleetInputs(fleet, hosts, {
        target: 'auth',
        'dry-run': 'true',
        key: makeKeyPair('not-authorized').privateKey
      }),
      { cwd: workspace({ 'index.html': 'new' }) }
    )
    expect(run.code, logOf(run)).toBe(1)
    for (const result of plannedResults(run))
      expect(result, logOf(run)).toMatchObject({ status: 'failed', errorClass: 'auth' })
    expect(homes(hosts)).toEqual(before)
  })
})
