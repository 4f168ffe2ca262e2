// Hosts and runners that work against the deploy: symbolic links on the host that lead out of
// the target, a local file rewritten while it is sent, two entries that are one login directory,
// a host that floods every channel, a login that prints a banner. Each ends in files that are
// whole where they belong, or a failure that says why, in bounded time and memory.

import {
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  symlinkSync,
  watch,
  writeFileSync,
  writeSync
} from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { pseudoRandomBytes, workspace } from '../helpers/workspace.js'
import {
  fleetInputs,
  logOf,
  results,
  runAction,
  sha256,
  treeDigest
} from '../harness/run-action.js'
import { useFleet, type TestHost } from '../harness/sshd.js'
import { startProxy } from '../harness/tcp-proxy.js'
import { tempDir } from '../harness/temp.js'

const fleet = useFleet({ count: 6 })

const host = (index: number): TestHost => fleet.host(index)

/** What treeDigest should find where `files` landed. */
function digestsOf(files: Record<string, string | Buffer>): Record<string, string> {
  return Object.fromEntries(Object.entries(files).map(([path, content]) => [path, sha256(content)]))
}

const MiB = 1024 * 1024

describe('symbolic links on the host', () => {
  test('a link inside the target that leads out of it is never written through; a target that is itself a link is deployed into', async () => {
    const h = host(0)
    mkdirSync(h.path('outside'))
    mkdirSync(h.path('app'))
    symlinkSync('../outside', h.path('app/sub'))
    const run = await runAction(fleetInputs(fleet, [h], { target: 'app' }), {
      cwd: workspace({ 'sub/a.txt': 'through the link', 'top.txt': 'top' })
    })
    expect(run.code, logOf(run)).toBe(1)
    const [result] = results(run)
    expect(result?.status).toBe('failed')
    expect(result?.error).toContain('symbolic link')
    expect(result?.error).toContain('sub')
    expect(result?.error).toContain('../outside')
    expect(existsSync(h.path('outside/a.txt'))).toBe(false)
    expect(readdirSync(h.path('outside'))).toEqual([])
    // Nothing was published beside the link either.
    expect(readdirSync(h.path('app'))).toEqual(['sub'])

    // The target itself may be a link: what it points to is the target.
    mkdirSync(h.path('real-app'))
    symlinkSync('real-app', h.path('linked-app'))
    const files = { 'index.html': 'through the target link', 'css/site.css': 'body {}' }
    const linked = await runAction(fleetInputs(fleet, [h], { target: 'linked-app' }), {
      cwd: workspace(files)
    })
    expect(linked.code, logOf(linked)).toBe(0)
    expect(lstatSync(h.path('linked-app')).isSymbolicLink()).toBe(true)
    expect(treeDigest(h.path('real-app'))).toEqual(digestsOf(files))
  })

  test('atomic: false never writes through a link where a file goes', async () => {
    const h = host(0)
    writeFileSync(h.path('victim.txt'), 'victim: original content')
    mkdirSync(h.path('inplace'))
    symlinkSync('../victim.txt', h.path('inplace/f.txt'))
    const run = await runAction(fleetInputs(fleet, [h], { target: 'inplace', atomic: 'false' }), {
      cwd: workspace({ 'f.txt': 'new content' })
    })
    expect(run.code, logOf(run)).toBe(1)
    expect(results(run)[0]?.error).toContain('symbolic link')
    expect(readFileSync(h.path('victim.txt'), 'utf8')).toBe('victim: original content')
  })
})

describe('a local file that changes while it is deployed', () => {
  test('rewritten in place throughout: every host fails once with local-file, and none has the file', async () => {
    const hosts = [host(1), host(2)]
    const ws = workspace({ 'big.bin': pseudoRandomBytes(48 * MiB, 41) })
    // New content for the rewrites, a counter in each block so that no write repeats the last.
    const blocks = [0, 1, 2, 3].map((seed) => pseudoRandomBytes(MiB, 1000 + seed))
    const fd = openSync(join(ws, 'big.bin'), 'r+')
    let writes = 0
    const rewrite = (): void => {
      const block = blocks[writes % blocks.length] as Buffer
      block.writeUInt32LE(writes, 0)
      writeSync(fd, block, 0, block.length, Math.floor(Math.random() * 47) * MiB)
      writes += 1
    }
    const rewriter = setInterval(rewrite, 5)
    // Bounded whatever the action does.
    const deadline = setTimeout(() => clearInterval(rewriter), 90_000)
    let run
    try {
      run = await runAction(fleetInputs(fleet, hosts, { source: 'big.bin', target: 'moving' }), {
        cwd: ws,
        timeoutMs: 100_000
      })
    } finally {
      clearInterval(rewriter)
      clearTimeout(deadline)
      closeSync(fd)
    }
    expect(writes).toBeGreaterThan(0)
    expect(run.code, logOf(run)).toBe(1)
    expect(results(run)).toHaveLength(2)
    for (const result of results(run)) {
      expect(result, logOf(run)).toMatchObject({
        status: 'failed',
        errorClass: 'local-file',
        attempts: 1
      })
      expect(result.error).toMatch(/changed on the runner while it was being deployed/)
    }
    for (const h of hosts) expect(existsSync(h.path('moving/big.bin'))).toBe(false)
  })

  test('replaced by rename once the first host has it: the first keeps the original, the next fails once with local-file', async () => {
    const [first, second] = [host(1), host(2)]
    const original = pseudoRandomBytes(32 * MiB, 42)
    const ws = workspace({ 'big.bin': original })
    // The replacement, same size, other content, ready on the same file system.
    const next = join(tempDir('next'), 'big.bin')
    writeFileSync(next, pseudoRandomBytes(32 * MiB, 43))
    const target = 'replaced'
    mkdirSync(first.path(target))
    const final = first.path(`${target}/big.bin`)

    // The moment the file is published on the first host (an inotify event, a poll as well),
    // the local file is replaced: long before the second host, one at a time, connects.
    let replaced = false
    const replace = (): void => {
      if (replaced || !existsSync(final)) return
      replaced = true
      renameSync(next, join(ws, 'big.bin'))
    }
    const watcher = watch(first.path(target), replace)
    const poll = setInterval(replace, 10)
    const deadline = setTimeout(() => clearInterval(poll), 90_000)
    let run
    try {
      run = await runAction(
        fleetInputs(fleet, [first, second], {
          source: 'big.bin',
          target,
          'max-parallel': '1'
        }),
        { cwd: ws, timeoutMs: 100_000 }
      )
    } finally {
      watcher.close()
      clearInterval(poll)
      clearTimeout(deadline)
    }
    expect(replaced).toBe(true)
    expect(run.code, logOf(run)).toBe(1)
    const [one, two] = results(run)
    expect(one?.status, logOf(run)).toBe('success')
    expect(sha256(readFileSync(final))).toBe(sha256(original))
    expect(two, logOf(run)).toMatchObject({
      status: 'failed',
      errorClass: 'local-file',
      attempts: 1
    })
    expect(two?.error).toMatch(/changed on the runner while it was being deployed/)
  })
})

describe('hosts that are not what they seem', () => {
  test('two host entries that reach one login directory both deploy whole', async () => {
    const h = host(3)
    const proxy = await startProxy(h)
    try {
      // A few rounds: on some, the two entries race on the same names.
      for (let round = 0; round < 3; round += 1) {
        const files: Record<string, string | Buffer> = {
          'big.bin': pseudoRandomBytes(3 * MiB, 50 + round)
        }
        for (let i = 0; i < 40; i += 1) files[`small/${i}.txt`] = `round ${round} file ${i}`
        const target = `shared-${round}`
        const run = await runAction(
          fleetInputs(fleet, [], {
            host: `${fleet.user}@${h.entry}\n${fleet.user}@${proxy.entry}`,
            'known-hosts': `${proxy.knownHostsFrom(h.knownHosts)}\n${h.knownHosts}`,
            target
          }),
          { cwd: workspace(files) }
        )
        expect(run.code, `round ${round}: ${logOf(run)}`).toBe(0)
        expect(results(run).map((result) => result.status)).toEqual(['success', 'success'])
        expect(treeDigest(h.path(target))).toEqual(digestsOf(files))
      }
    } finally {
      await proxy.stop()
    }
  })

  test('a host that answers every channel with an endless stream, SFTP too: it fails, and memory stays bounded', async () => {
    const h = host(4)
    // Many small files: the hashing shell is asked for first, and floods before SFTP does.
    const files: Record<string, string | Buffer> = { 'big.bin': pseudoRandomBytes(2 * MiB, 61) }
    for (let i = 0; i < 40; i += 1) files[`small/${i}.txt`] = `small ${i}`
    // At once everywhere; then with the SFTP server silent for 8 s first, so that the shells'
    // flood lasts that long, not only until the SFTP session fails.
    const floods = [
      'cat /dev/zero',
      'case "$SSH_ORIGINAL_COMMAND" in */sftp-server) sleep 8 ;; esac; exec cat /dev/zero'
    ]
    for (const [round, flood] of floods.entries()) {
      h.setForcedCommand(flood, { sftpToo: true })
      try {
        const run = await runAction(
          fleetInputs(fleet, [h], {
            target: `flood-${round}`,
            'idle-timeout': '10s',
            retries: '0'
          }),
          { cwd: workspace(files), measurePeakRss: true }
        )
        expect(run.code, `${flood}: ${logOf(run)}`).toBe(1)
        expect(results(run)[0]?.status).toBe('failed')
        expect(run.peakRssKiB, flood).toBeDefined()
        expect(run.peakRssKiB, flood).toBeLessThan(150 * 1024)
      } finally {
        h.setForcedCommand(undefined)
      }
    }
  })

  test('a host whose commands answer with an endless stream: the files are verified by reading them back, and memory stays bounded', async () => {
    const h = host(4)
    h.setForcedCommand('cat /dev/zero')
    const files = { 'a.txt': 'a', 'b/c.bin': pseudoRandomBytes(2 * MiB, 60) }
    try {
      const run = await runAction(
        fleetInputs(fleet, [h], { target: 'flood-commands', 'idle-timeout': '10s', retries: '0' }),
        { cwd: workspace(files), measurePeakRss: true }
      )
      expect(run.code, logOf(run)).toBe(0)
      expect(treeDigest(h.path('flood-commands'))).toEqual(digestsOf(files))
      expect(run.peakRssKiB).toBeDefined()
      expect(run.peakRssKiB).toBeLessThan(150 * 1024)
    } finally {
      h.setForcedCommand(undefined)
    }
  })

  test.each([
    { files: 'many small files', count: 20 },
    { files: 'one file', count: 1 }
  ])(
    'a login that prints a banner ($files): the host fails at once, saying it prints output for non-interactive sessions',
    async ({ count }) => {
      const h = host(5)
      const files: Record<string, string> = {}
      for (let i = 0; i < count; i += 1) files[`f${i}.txt`] = `file ${i}`
      h.setLoginBanner('*** Welcome to host ***')
      try {
        const run = await runAction(
          fleetInputs(fleet, [h], {
            target: `banner-${count}`,
            // Bounds a run that waits for an answer that never comes; one retry allowed, so
            // that 1 attempt says the failure was known not to be worth another.
            'idle-timeout': '20s',
            retries: '1'
          }),
          { cwd: workspace(files) }
        )
        expect(run.code, logOf(run)).toBe(1)
        const [result] = results(run)
        expect(result?.error).toContain('prints output for non-interactive sessions')
        expect(result?.attempts).toBe(1)
        // Known from the banner itself: the idle watchdog (20s) never had to end a wait.
        expect(result?.error).not.toMatch(/no data from the server/)
        expect(result?.durationMs).toBeLessThan(20_000)
      } finally {
        h.setLoginBanner(undefined)
      }
    }
  )
})
