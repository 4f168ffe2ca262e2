// One attempt's steps against a fake host (fakes of our SSH interfaces, no sshd): where files
// go, how they are verified, and each fallback, in milliseconds.

import { symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { runAttempt } from '../../src/deploy/attempt.js'
import type { Settings } from '../../src/config/settings.js'
import { ConnectionEndedError, DeployError } from '../../src/errors.js'
import { buildPlan, type Plan } from '../../src/local/plan.js'
import { pseudoRandomBytes, workspace } from '../helpers/workspace.js'
import { fakeHost, type FakeHost } from './fakes/fake-host.js'
import { testJob, testPlan, testSettings, type TestJob } from './fakes/host-job.js'

/** Attempt number `attempts` of a fresh job (or of `previous`, a retry) at `host`. */
async function attempt(
  host: FakeHost,
  settings: Settings,
  plan: Plan,
  previous?: TestJob
): Promise<TestJob> {
  const run = previous ?? testJob(host, settings, plan)
  run.job.progress.attempts += 1
  await runAttempt(run.job, new AbortController().signal)
  return run
}

/** The attempt's failure. */
async function failure(
  host: FakeHost,
  settings: Settings,
  plan: Plan,
  previous?: TestJob
): Promise<{ error: DeployError; run: TestJob }> {
  const run = previous ?? testJob(host, settings, plan)
  const error = await attempt(host, settings, plan, run).then(
    () => {
      throw new Error('the attempt succeeded')
    },
    (caught: unknown) => caught
  )
  if (!(error instanceof DeployError)) throw error
  return { error, run }
}

/** The error an attempt to deploy `files` (path to content) to `host` fails with. */
async function failureWith(
  host: FakeHost,
  files: Record<string, string | Buffer>,
  inputs: Parameters<typeof testPlan>[1] = {}
): Promise<DeployError> {
  const { settings, plan } = await testPlan(files, inputs)
  return (await failure(host, settings, plan)).error
}

/** `count` small files in two directories, `a/` and `b/`. */
function smallTree(count: number): Record<string, string> {
  return Object.fromEntries(
    Array.from({ length: count }, (_, index) => [
      `${index % 2 ? 'a' : 'b'}/${index}.txt`,
      `#${index}`
    ])
  )
}

/** The files written over SFTP (the preflight's probe apart). */
const opened = (host: FakeHost): string[] =>
  host.ops.filter(
    (op) =>
      op.startsWith('open w ') && !op.includes('/.sfd-preflight-') && !op.includes('/.deploy.lock')
  )

describe('an attempt over SFTP', () => {
  test('a new target: each file goes to a temporary name, verified by the host, renamed into place', async () => {
    const { settings, plan } = await testPlan({
      'index.html': '<h1>hi</h1>',
      'css/site.css': 'b{}'
    })
    const host = fakeHost()
    const { job, lines } = await attempt(host, settings, plan)
    expect(host.files()).toEqual(['/home/u/site/css/site.css', '/home/u/site/index.html'])
    expect(host.file('/home/u/site/index.html')?.toString()).toBe('<h1>hi</h1>')
    expect(opened(host)).toHaveLength(2)
    for (const op of opened(host)) expect(op).toMatch(/\/\.[^/]+\.tmp$|\/\.[^/]+$/)
    expect(host.ops.filter((op) => op.startsWith('rename '))).toHaveLength(2)
    expect(job.progress).toMatchObject({ uploaded: 2, skipped: 0, bytes: 14 })
    expect(job.progress.temporaries.size).toBe(0)
    expect(lines).toContain('target site is /home/u/site on the host (new)')
    expect(lines).toContainEqual(expect.stringMatching(/^preflight: target writable, /))
    // Verified by the hashing shell, not read back.
    expect(host.ops).not.toContain('read')
  })

  test('a redeploy sends only what changed', async () => {
    const { settings, plan } = await testPlan({ 'same.txt': 'same', 'new.txt': 'new' })
    const host = fakeHost()
    host.put('/home/u/site/same.txt', 'same')
    host.put('/home/u/site/new.txt', 'old')
    const { job, lines } = await attempt(host, settings, plan)
    expect(job.progress).toMatchObject({ uploaded: 1, skipped: 1 })
    expect(host.file('/home/u/site/new.txt')?.toString()).toBe('new')
    expect(opened(host)).toHaveLength(1)
    expect(lines).toContainEqual(
      expect.stringMatching(/^1 file\(s\) already up to date, 1 to send/)
    )
    expect(lines).toContain('target site is /home/u/site on the host')
  })

  test('a host that runs no command for us: files verified by reading them back, said once', async () => {
    const { settings, plan } = await testPlan({ 'a.txt': 'a', 'b.txt': 'b', 'c.txt': 'c' })
    const host = fakeHost({ commands: 'refused' })
    const { job, lines } = await attempt(host, settings, plan)
    expect(job.progress.uploaded).toBe(3)
    expect(host.ops.filter((op) => op === 'read').length).toBeGreaterThanOrEqual(3)
    expect(lines.filter((line) => line.includes('verifying by reading each file back'))).toEqual([
      'the host does not run openssl, sha256sum or shasum for us (no shell, none installed, or no session left): verifying by reading each file back over SFTP'
    ])
    // No df without a shell: the free space comes from statvfs.
    expect(lines).toContainEqual(
      expect.stringMatching(/^preflight: target writable, 1.00 TiB free/)
    )
  })

  test('verify: size compares sizes and starts no hashing shell', async () => {
    const { settings, plan } = await testPlan({ 'a.txt': 'abc' }, { verify: 'size' })
    const host = fakeHost()
    const { job } = await attempt(host, settings, plan)
    expect(job.progress.uploaded).toBe(1)
    expect(host.ops).not.toContain('channel sh -s')
  })
})

describe('an attempt with many small files', () => {
  test('a new target: the hashing shell makes it and takes them as one tar stream', async () => {
    const { settings, plan } = await testPlan(smallTree(20))
    const host = fakeHost()
    const { job, lines } = await attempt(host, settings, plan)
    expect(host.files()).toHaveLength(20)
    expect(host.file('/home/u/site/a/7.txt')?.toString()).toBe('#7')
    expect(opened(host)).toEqual([])
    expect(lines).toContain('20 small files (50 B) sent as one tar stream')
    expect(lines).toContain('published 2 whole directories into the new target')
    expect(lines).toContain('target site is /home/u/site on the host (new)')
    expect(lines).toContainEqual(expect.stringMatching(/^preflight: target made, 1.00 TiB free/))
    expect([...host.nodes.keys()].filter((path) => path.includes('.sfd-stage'))).toEqual([])
    expect(job.progress.stagingDirs.size).toBe(0)
    expect(job.progress.uploaded).toBe(20)
  })

  test('a target that is there: the stream goes into a hashing shell, each file renamed on its own', async () => {
    const { settings, plan } = await testPlan(smallTree(20))
    const host = fakeHost()
    host.put('/home/u/site/keep.txt', 'keep')
    const { job, lines } = await attempt(host, settings, plan)
    expect(lines).toContain('20 small files (50 B) sent as one tar stream')
    expect(lines).not.toContainEqual(expect.stringMatching(/whole director/))
    expect(host.ops.filter((op) => op.startsWith('rename '))).toHaveLength(20)
    expect(host.files()).toHaveLength(21)
    expect([...host.nodes.keys()].filter((path) => path.includes('.sfd-stage'))).toEqual([])
    expect(job.progress.stagingDirs.size).toBe(0)
  })

  test('a host without tar: the stream fails and the files go over SFTP', async () => {
    const { settings, plan } = await testPlan(smallTree(20))
    const host = fakeHost({ commands: 'no-tar' })
    host.put('/home/u/site/old.txt', 'old')
    const { job, lines } = await attempt(host, settings, plan)
    expect(lines).toContain(
      'sending 20 small files as one tar stream failed (exit 127: sh: tar: not found); sending them over SFTP'
    )
    expect(opened(host)).toHaveLength(20)
    expect(job.progress.uploaded).toBe(20)
    expect(job.progress.stagingDirs.size).toBe(0)
  })

  test('a server with one session: the shell takes the stream, then makes way for SFTP, which verifies by reading back', async () => {
    const { settings, plan } = await testPlan(smallTree(20))
    const host = fakeHost({ maxSessions: 1 })
    const { job, lines } = await attempt(host, settings, plan)
    expect(lines).toContain('20 small files (50 B) sent as one tar stream')
    expect(lines).toContainEqual(
      expect.stringContaining('verifying by reading each file back over SFTP')
    )
    expect(host.files()).toHaveLength(20)
    expect(job.progress.uploaded).toBe(20)
  })

  test('verify: size: the stream goes to a tar command of its own', async () => {
    const { settings, plan } = await testPlan(smallTree(20), { verify: 'size' })
    const host = fakeHost()
    const { lines } = await attempt(host, settings, plan)
    expect(lines).toContain('20 small files (50 B) sent as one tar stream')
    expect(host.ops.filter((op) => op.startsWith('stream '))).toHaveLength(1)
    expect(host.files()).toHaveLength(20)
  })

  test('a host that refuses the channel for the stream: the files go over SFTP', async () => {
    const { settings, plan } = await testPlan(smallTree(20), { verify: 'size' })
    const host = fakeHost({ commands: 'refused' })
    const { job, lines } = await attempt(host, settings, plan)
    expect(lines).toContain(
      'the host refused a channel for a tar stream (fake: the server refused to run a command); sending 20 small files over SFTP'
    )
    expect(opened(host)).toHaveLength(20)
    expect(job.progress.uploaded).toBe(20)
  })

  test('a redeploy of unchanged files: compared by digests asked for before SFTP is up', async () => {
    const files = smallTree(20)
    const { settings, plan } = await testPlan(files)
    const host = fakeHost()
    for (const [path, content] of Object.entries(files)) host.put(`/home/u/site/${path}`, content)
    const { job, lines } = await attempt(host, settings, plan)
    expect(job.progress).toMatchObject({ uploaded: 0, skipped: 20, bytes: 0 })
    expect(lines).toContainEqual(
      expect.stringMatching(/^20 file\(s\) already up to date, 0 to send/)
    )
    expect(
      host.ops.filter(
        (op) =>
          (op.startsWith('stream ') || op.startsWith('open w ')) && !op.includes('/.deploy.lock')
      )
    ).toEqual([])
  })
})

describe('a target the hashing shell made', () => {
  test('with too little room: nothing streamed, the target counts as new, and preflight says why', async () => {
    const { settings, plan } = await testPlan(smallTree(20))
    const host = fakeHost({ freeBytes: 10 })
    const { error, run } = await failure(host, settings, plan)
    expect(error.message).toBe(
      "preflight: not enough space on u@fake.example:22: 10 B free in '/home/u/site', 50 B to send"
    )
    expect(run.lines).toContain('target site is /home/u/site on the host (new)')
    expect(host.ops.filter((op) => op.startsWith('stream '))).toEqual([])
  })

  test('where the SFTP server does not see it (sftp-server -d): dropped, and the files go where SFTP sees the target', async () => {
    const { settings, plan } = await testPlan(smallTree(20))
    const host = fakeHost({ sftpHome: '/srv' })
    const { job, lines } = await attempt(host, settings, plan)
    expect(lines).toContain(
      'the SFTP server does not see target site where the shell made it (/home/u/site); dropping what the shell received'
    )
    expect(lines).toContain('target site is /srv/site on the host (new)')
    expect(host.files().every((path) => path.startsWith('/srv/site/'))).toBe(true)
    expect(host.files()).toHaveLength(20)
    expect(host.nodes.has('/home/u/site')).toBe(false)
    expect(job.progress.stagingDirs.size).toBe(0)
  })
})

describe('an attempt that fails', () => {
  test('without posix-rename, atomic publishing is refused, naming the way out', async () => {
    const error = await failureWith(fakeHost({ posixRename: false }), { 'a.txt': 'a' })
    expect(error.kind).toBe('protocol')
    expect(error.message).toContain("set 'atomic: false' to write files in place")
  })

  test('a lost connection keeps the partial copy, and the retry continues it', async () => {
    const content = pseudoRandomBytes(700_000, 3)
    const { settings, plan } = await testPlan({ 'big.bin': content }, { concurrency: '1' })
    const host = fakeHost()
    host.onWrite = (_path, position) => (position > 0 ? 'cut' : undefined)
    const { error, run } = await failure(host, settings, plan)
    expect(error).toBeInstanceOf(ConnectionEndedError)
    expect(error.retryable).toBe(true)
    expect(run.job.progress.temporaries.size).toBe(1)
    host.onWrite = undefined
    await attempt(host, settings, plan, run)
    expect(host.file('/home/u/site/big.bin')?.equals(content)).toBe(true)
    expect(run.job.progress.resumedBytes).toBe(261_120)
    expect(run.lines).toContain(`'big.bin': continued from 255.0 KiB already on the host`)
    expect(run.job.progress.temporaries.size).toBe(0)
  })

  test('a corrupted copy is removed, and the retry writes one chunk at a time', async () => {
    const content = pseudoRandomBytes(1_000_000, 5)
    const { settings, plan } = await testPlan({ 'a.bin': content })
    const host = fakeHost({ writeDelayMs: 5 })
    host.onWrite = () => 'corrupt'
    const { error, run } = await failure(host, settings, plan)
    expect(error.kind).toBe('verify-mismatch')
    expect(error.message).toMatch(/^'a\.bin' arrived corrupted: SHA-256 on the host /)
    expect(run.job.progress.temporaries.size).toBe(0)
    // The deploy lock stays for the retry, which takes it over: no other deploy in between.
    expect(host.files()).toEqual(['/home/u/site/.deploy.lock'])
    expect(run.job.progress.lock).toBe('/home/u/site/.deploy.lock')
    expect(host.maxWritesInFlight).toBeGreaterThan(1)
    host.onWrite = undefined
    host.maxWritesInFlight = 0
    await attempt(host, settings, plan, run)
    expect(host.maxWritesInFlight).toBe(1)
    expect(host.file('/home/u/site/a.bin')?.equals(content)).toBe(true)
    expect(host.files()).toEqual(['/home/u/site/a.bin'])
  })

  test('a write that fails for lack of room says so', async () => {
    const host = fakeHost({ freeBytes: 1000 })
    host.onWrite = () => 'fail'
    const files = { 'a.bin': pseudoRandomBytes(10_000) }
    const error = await failureWith(host, files, { preflight: 'false' })
    expect(error.kind).toBe('disk-full')
    expect(error.message).toBe(
      "disk full on u@fake.example:22 while writing 'a.bin': 1000 B free in '/home/u/site', 9.77 KiB still to write"
    )
  })

  test('preflight: not enough room for the files fails before any is sent', async () => {
    const host = fakeHost({ freeBytes: 1000 })
    const error = await failureWith(host, { 'a.bin': pseudoRandomBytes(10_000) })
    expect(error.kind).toBe('disk-full')
    expect(error.message).toMatch(/^preflight: not enough space on u@fake\.example:22/)
    expect(opened(host)).toEqual([])
  })

  test('a symbolic link inside the target is refused before anything is written', async () => {
    const host = fakeHost()
    host.link('/home/u/site/css', '/etc')
    const error = await failureWith(host, { 'css/site.css': 'b{}' })
    expect(error.message).toBe(
      "'/home/u/site/css' on the host is a symbolic link (to '/etc') inside the target: nothing is written through a link there; replace it with a directory, or point target at where it leads"
    )
    expect(opened(host)).toEqual([])
  })

  test('a directory where a file is to go is named, and the copy sent is removed', async () => {
    const host = fakeHost()
    host.put('/home/u/site/index.html/keep', 'k')
    const error = await failureWith(host, { 'index.html': 'x' })
    expect([error.kind, error.message.split(' on the host;')[0]]).toEqual([
      'remote-failure',
      "'index.html' cannot be published: a directory is in the way at '/home/u/site/index.html'"
    ])
    expect(host.files()).toEqual(['/home/u/site/index.html/keep'])
  })
})

describe('symbolic links deployed as links', () => {
  test('made on the host with their target text, and skipped when already there', async () => {
    const dir = workspace({ 'real.txt': 'r' })
    symlinkSync('real.txt', join(dir, 'alias'))
    const settings = testSettings({ 'follow-symbolic-links': 'false' }, dir)
    const plan = await buildPlan(settings)
    const host = fakeHost()
    const first = await attempt(host, settings, plan)
    expect(host.nodes.get('/home/u/site/alias')).toEqual({ kind: 'link', target: 'real.txt' })
    expect(first.job.progress.uploaded).toBe(2)
    const again = await attempt(host, settings, plan)
    expect(again.job.progress).toMatchObject({ uploaded: 0, skipped: 2 })
  })
})
