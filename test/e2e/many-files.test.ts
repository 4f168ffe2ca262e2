// Many small files travel as one tar stream where the host has a shell and tar, over SFTP
// where it has not; either way every file lands byte for byte, with its mode, and nothing of
// the staging is left behind.

import { execFileSync } from 'node:child_process'
import { chmodSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { pseudoRandomBytes, workspace } from '../helpers/workspace.js'
import {
  fleetInputs,
  results,
  runAction,
  sha256,
  treeDigest,
  type ActionRun
} from '../harness/run-action.js'
import {
  commandsWithout,
  startFleet,
  withCommandPath,
  type Fleet,
  type TestHost
} from '../harness/sshd.js'
import { tempDir } from '../harness/temp.js'

let fleet: Fleet
const realTar = execFileSync('sh', ['-c', 'command -v tar']).toString().trim()

beforeAll(async () => {
  fleet = await startFleet({ count: 3, host: (index) => (index === 1 ? { sftpOnly: true } : {}) })
})

afterAll(async () => {
  await fleet.stop()
})

function manyFiles(): Record<string, string | Buffer> {
  const files: Record<string, string | Buffer> = {}
  for (let i = 0; i < 300; i += 1) files[`site/d${i % 7}/f${i}.txt`] = `file ${i}\n`.repeat(i % 13)
  files['site/.hidden/.env'] = 'hidden'
  files['site/new\nline.txt'] = 'newline'
  files["site/quote's $(touch PWNED) `id`.txt"] = 'odd'
  files['site/ünïcødé/日本語.txt'] = 'unicode'
  files[`site/${'long-directory-name/'.repeat(8)}${'x'.repeat(120)}.txt`] = 'long path'
  files['site/empty.txt'] = ''
  files['site/big.bin'] = pseudoRandomBytes(3 * 1024 * 1024, 5)
  // Sent over SFTP into a directory the tar stream also fills: that directory cannot be
  // published whole once this file is in it, and its small files go one by one.
  files['site/d3/big.bin'] = pseudoRandomBytes(2 * 1024 * 1024, 6)
  return files
}

function expectedTree(files: Record<string, string | Buffer>): Record<string, string> {
  const expected: Record<string, string> = {}
  for (const [path, content] of Object.entries(files))
    expected[path.replace(/^site\//, '')] = sha256(content)
  return expected
}

/** manyFiles() deployed to `target` on `host`: the step succeeds and every file lands intact. */
async function deployManyFiles(host: TestHost, target: string): Promise<ActionRun> {
  const files = manyFiles()
  const run = await runAction(
    fleetInputs(fleet, [host], { source: 'site/**', 'strip-components': '1', target }),
    { cwd: workspace(files) }
  )
  expect(run.code, run.stdout).toBe(0)
  expect(treeDigest(host.path(target))).toEqual(expectedTree(files))
  return run
}

/**
 * 60 small files deployed to `target`, then again with `changed` (by path under site/) and
 * whatever `before` does: the second run sent and skipped `counts`, and the host has it all.
 */
async function redeploy(
  host: TestHost,
  target: string,
  changed: Record<string, string>,
  counts: { uploaded: number; skipped: number },
  before: (workspace: string) => void = () => undefined
): Promise<void> {
  const files: Record<string, string> = {}
  for (let i = 0; i < 60; i += 1) files[`site/d${i % 4}/f${i}.txt`] = `file ${i}\n`
  const ws = workspace(files)
  const inputs = fleetInputs(fleet, [host], { source: 'site/**', target })
  const first = await runAction(inputs, { cwd: ws })
  expect(first.code, first.stdout).toBe(0)
  for (const [path, text] of Object.entries(changed)) writeFileSync(join(ws, 'site', path), text)
  before(ws)
  const second = await runAction(inputs, { cwd: ws })
  expect(second.code, second.stdout).toBe(0)
  expect(results(second)[0]).toMatchObject(counts)
  expect(treeDigest(host.path(`${target}/site`))).toEqual({
    ...expectedTree(files),
    ...Object.fromEntries(Object.entries(changed).map(([path, text]) => [path, sha256(text)]))
  })
}

describe('many small files', () => {
  test('go as one tar stream to a host with a shell, over SFTP to an SFTP-only host; all land intact', async () => {
    const files = manyFiles()
    const ws = workspace(files)
    chmodSync(join(ws, 'site/d0/f0.txt'), 0o751)
    const run = await runAction(
      fleetInputs(fleet, [fleet.host(0), fleet.host(1)], {
        source: 'site/**',
        'strip-components': '1',
        target: 'many'
      }),
      { cwd: ws }
    )
    expect(run.code, run.stdout).toBe(0)
    const count = Object.keys(files).length
    for (const result of results(run))
      expect(result).toMatchObject({ status: 'success', uploaded: count })
    for (const index of [0, 1]) {
      const host = fleet.host(index)
      expect(treeDigest(host.path('many'))).toEqual(expectedTree(files))
      expect(statSync(host.path('many/d0/f0.txt')).mode & 0o777).toBe(0o751)
    }
    const [shellLog, sftpLog] = [0, 1].map((index) => {
      const label = results(run)[index]?.host ?? ''
      return (
        run.stdout.split('::endgroup::').find((group) => group.includes(`::group::${label}:`)) ?? ''
      )
    })
    expect(shellLog).toMatch(/\d+ small files \(.*\) sent as one tar stream/)
    // The target was new: directories the stream filled alone went in whole.
    expect(shellLog).toMatch(/published \d+ whole director(y|ies) into the new target/)
    expect(sftpLog).not.toContain('tar stream')
    // The odd name was only ever data: no command in it ran, on the host or here.
    for (const dir of [fleet.host(0).home, ws])
      expect(
        Object.keys(treeDigest(dir)).filter((path) => path.split('/').pop() === 'PWNED')
      ).toEqual([])
    expect(
      Object.keys(treeDigest(fleet.host(0).home)).filter((path) => /sfd-(stage|tmp)/.test(path))
    ).toEqual([])
  })

  test('each SSH session is a login: thousands of files take one hashing shell, not two', async () => {
    const host = fleet.host(0)
    const files: Record<string, string> = {}
    for (let i = 0; i < 2500; i += 1) files[`site/d${i % 10}/f${i}.txt`] = `${i}\n`
    const cwd = workspace(files)
    const inputs = fleetInputs(fleet, [host], { source: 'site/**', target: 'sessions' })
    const sessions = async (): Promise<string[]> => {
      const before = host.log().length
      const run = await runAction(inputs, { cwd })
      expect(run.code, run.stdout).toBe(0)
      return host.log().slice(before).split('\n')
    }
    const started = (log: string[]): number =>
      log.filter((line) => line.includes('Starting session')).length
    // A new target: SFTP and the hashing shell, which finds the target empty, then takes the
    // tar stream and hashes what it extracted.
    const fresh = await sessions()
    expect(started(fresh), fresh.join('\n')).toBe(2)
    // Nothing changed: SFTP and the hashing shell, which hashes all 2,500 files.
    const again = await sessions()
    expect(started(again), again.join('\n')).toBe(2)
    expect(treeDigest(host.path('sessions/site'))).toEqual(
      Object.fromEntries(
        Object.entries(files).map(([path, content]) => [
          path.slice('site/'.length),
          sha256(content)
        ])
      )
    )
  })

  test('a redeploy of many files sends only the changed one, the one gone from the host, and the new one', async () => {
    const host = fleet.host(0)
    // Same size, other content; a file new to the plan; a copy removed on the host.
    await redeploy(
      host,
      'changed',
      { 'd1/f5.txt': 'FILE 5\n', 'd3/new.txt': 'new\n' },
      { uploaded: 3, skipped: 58 },
      () => execFileSync('rm', [host.path('changed/site/d2/f6.txt')])
    )
  })

  test('a redeploy whose host hashes slowly compares the answers that come after SFTP is up', async () => {
    const host = fleet.host(2)
    const bin = tempDir('slowhash')
    // Every openssl run takes 0.4 s longer: the first answer, then the rest, come well after the
    // SFTP server has logged in, so most files wait for theirs.
    const openssl = execFileSync('sh', ['-c', 'command -v openssl']).toString().trim()
    writeFileSync(join(bin, 'openssl'), `#!/bin/sh\nsleep 0.4\nexec ${openssl} "$@"\n`)
    chmodSync(join(bin, 'openssl'), 0o755)
    try {
      await redeploy(
        host,
        'slow-hash',
        { 'd1/f9.txt': 'FILE 9\n', 'd2/f50.txt': 'FILE 50!\n' },
        { uploaded: 2, skipped: 58 },
        () => host.setCommandPath(`${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`)
      )
    } finally {
      host.setCommandPath(undefined)
    }
  })

  test('a host without tar gets the files over SFTP, and says why', async () => {
    const host = fleet.host(2)
    const run = await withCommandPath(host, commandsWithout('tar'), () =>
      deployManyFiles(host, 'notar')
    )
    expect(run.stdout).toMatch(/as one tar stream failed \(exit 127.*\); sending them over SFTP/)
  })

  test('a new target the shell made without df to say its room is taken as new: nothing to compare, the room checked over SFTP', async () => {
    const host = fleet.host(2)
    const run = await withCommandPath(host, commandsWithout('df'), () =>
      deployManyFiles(host, 'nodf')
    )
    expect(run.stdout).toMatch(/target nodf is \S+ on the host \(new\)/)
    expect(run.stdout).toMatch(/preflight: target writable, [\d.]+ \w+ free/)
    // Nothing was hashed on the host to compare with.
    expect(run.stdout).not.toMatch(/file\(s\) already up to date, \d+ to send/)
    expect(results(run)[0]).toMatchObject({ status: 'success', skipped: 0 })
  })

  test('a file the host corrupts after tar wrote it is caught by the digest the shell answers', async () => {
    const host = fleet.host(2)
    const bin = tempDir('badtar')
    for (const tool of ['openssl', 'rm', 'mkdir', 'find', 'sed', 'cat', 'df'])
      symlinkSync(`/usr/bin/${tool}`, join(bin, tool))
    symlinkSync('/bin/sh', join(bin, 'sh'))
    // Extracts for real, then changes one file in the staging directory.
    writeFileSync(
      join(bin, 'tar'),
      `#!/bin/sh\n${realTar} "$@" || exit\nprintf x >> site/d1/f1.txt\n`
    )
    chmodSync(join(bin, 'tar'), 0o755)
    const files: Record<string, string> = {}
    for (let i = 0; i < 40; i += 1) files[`site/d${i % 4}/f${i}.txt`] = `${i}\n`
    const run = await withCommandPath(host, bin, () =>
      runAction(
        fleetInputs(fleet, [host], { source: 'site/**', target: 'corrupt', retries: '0' }),
        { cwd: workspace(files) }
      )
    )
    expect(run.code, run.stdout).toBe(1)
    expect(run.stdout).toMatch(/'site\/d1\/f1.txt' arrived corrupted/)
    expect(results(run)[0]).toMatchObject({ status: 'failed' })
    // Nothing of the stream was published: no file at all, corrupted or not.
    expect(Object.keys(treeDigest(host.path('corrupt')))).toEqual([])
  })
})
