// The remote hasher on a real sshd: one shell for an ordinary backlog, a second for a large one,
// and the same digests either way.

import { createHash } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { hostKeyChecker } from '../../src/config/host-key.js'
import { parseKnownHosts } from '../../src/config/known-hosts.js'
import { createRemoteHasher, type Backlog } from '../../src/remote/hasher-pool.js'
import { type RemoteDigest } from '../../src/remote/shell-protocol.js'
import { connect } from '../../src/ssh/connect.js'
import { type SshConnection } from '../../src/ssh/types.js'
import { startFleet, type Fleet, type TestHost } from '../harness/sshd.js'

let fleet: Fleet
let host: TestHost
const files: { path: string; sha256: string; size: number }[] = []

beforeAll(async () => {
  fleet = await startFleet({ count: 1 })
  host = fleet.host(0)
  mkdirSync(host.path('hashing'))
  // More than two full batches: one shell holds two at a time, and the rest wait in the queue.
  for (let i = 0; i < 2500; i += 1) {
    const content = `file ${i}\n`.repeat((i % 50) * 10)
    writeFileSync(host.path(join('hashing', `f${i}.txt`)), content)
    files.push({
      path: `hashing/f${i}.txt`,
      sha256: createHash('sha256').update(content).digest('hex'),
      size: Buffer.byteLength(content)
    })
  }
})

afterAll(async () => {
  await fleet.stop()
})

function connectToHost(): Promise<SshConnection> {
  return connect({
    host: host.address,
    port: host.port,
    username: fleet.user,
    label: host.entry,
    privateKey: fleet.keys.ed25519,
    passphrase: undefined,
    password: undefined,
    checkHostKey: hostKeyChecker(
      { mode: 'verify', knownHosts: parseKnownHosts(host.knownHosts), fingerprints: [] },
      { host: host.address, port: host.port, label: host.entry }
    ),
    hostKeyAlgorithms: undefined,
    connectTimeoutMs: 10_000,
    idleTimeoutMs: 30_000,
    keepaliveIntervalMs: 5_000,
    keepaliveCountMax: 3,
    signal: new AbortController().signal
  })
}

/** The sessions sshd has started since its log was `before` long. */
function sessionsSince(before: number): number {
  return (
    host
      .log()
      .slice(before)
      .match(/Starting session/g)?.length ?? 0
  )
}

/** Hashes every file through one connection; returns the digests and the sessions sshd started. */
async function hashAll(growAt?: Backlog): Promise<{ digests: RemoteDigest[]; sessions: number }> {
  const before = host.log().length
  const connection = await connectToHost()
  try {
    const hasher = createRemoteHasher(connection, 2, 30_000, growAt)
    void hasher.warmUp()
    const digests = await Promise.all(files.map((file) => hasher.hash(file.path, file.size)))
    hasher.close()
    return { digests, sessions: sessionsSince(before) }
  } finally {
    await connection.close()
  }
}

describe('hashing shells', () => {
  test('one shell takes an ordinary backlog', async () => {
    const { digests, sessions } = await hashAll()
    expect(digests).toEqual(files.map((file) => ({ sha256: file.sha256 })))
    expect(sessions).toBe(1)
  })

  test('a backlog beyond the threshold starts a second shell, with the same digests', async () => {
    const { digests, sessions } = await hashAll({ bytes: Infinity, files: 10 })
    expect(digests).toEqual(files.map((file) => ({ sha256: file.sha256 })))
    expect(sessions).toBe(2)
  })

  test('so does a backlog beyond the byte threshold', async () => {
    const { sessions } = await hashAll({ bytes: 64 * 1024, files: Infinity })
    expect(sessions).toBe(2)
  })

  test('a shell taken for other work is handed over idle, its batches answered; the rest go to a new shell', async () => {
    const before = host.log().length
    const connection = await connectToHost()
    try {
      const hasher = createRemoteHasher(connection, 2, 30_000)
      void hasher.warmUp()
      const asked = files.map((file) => hasher.hash(file.path, file.size))
      // Asked for with a batch in flight and more queued: it comes once those in flight are in,
      // and takes no more meanwhile.
      const answeredBefore: number[] = []
      asked.forEach((digest, index) => void digest.then(() => answeredBefore.push(index)))
      await asked[0]
      const taken = await hasher.takeShell()
      expect(taken?.hasher).toBe('openssl')
      const handedOverAfter = answeredBefore.length
      expect(handedOverAfter).toBeGreaterThanOrEqual(1000)
      expect(handedOverAfter % 1000).toBe(0)
      expect(handedOverAfter).toBeLessThan(files.length)
      // Idle and still a shell: it runs what it is given next.
      expect(
        await taken?.channel.request('echo sfd-mine\necho sfd-end\n', 'sfd-end', 30_000)
      ).toEqual(['sfd-mine'])
      taken?.channel.close()
      expect(await Promise.all(asked)).toEqual(files.map((file) => ({ sha256: file.sha256 })))
      expect(hasher.machine?.bootId).toBeDefined()
      hasher.close()
      expect(sessionsSince(before)).toBe(2)
      expect(await hasher.takeShell()).toBeUndefined()
    } finally {
      await connection.close()
    }
  })

  test('a hasher created held starts no shell before warmUp; what was asked meanwhile is answered after', async () => {
    const before = host.log().length
    const connection = await connectToHost()
    try {
      const hasher = createRemoteHasher(connection, 2, 30_000, undefined, true)
      const [file] = files
      if (file === undefined) throw new Error('no file')
      const asked = hasher.hash(file.path, file.size)
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(sessionsSince(before)).toBe(0)
      await hasher.warmUp()
      expect(await asked).toEqual({ sha256: file.sha256 })
      expect(sessionsSince(before)).toBe(1)
      hasher.close()
    } finally {
      await connection.close()
    }
  })
})
