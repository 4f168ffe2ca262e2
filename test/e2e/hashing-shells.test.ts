// The remote hasher on a real sshd: one shell for an ordinary backlog, a second for a large one,
// and the same digests either way.

import { createHash } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { checkHostKey } from '../../src/host-key.js'
import { parseKnownHosts } from '../../src/known-hosts.js'
import { createRemoteHasher, type Backlog, type RemoteDigest } from '../../src/remote-hash.js'
import { connect } from '../../src/ssh.js'
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

/** Hashes every file through one connection; returns the digests and the sessions sshd started. */
async function hashAll(growAt?: Backlog): Promise<{ digests: RemoteDigest[]; sessions: number }> {
  const before = host.log().length
  const connection = await connect({
    host: host.address,
    port: host.port,
    username: fleet.user,
    label: host.entry,
    privateKey: fleet.keys.ed25519,
    passphrase: undefined,
    password: undefined,
    checkHostKey: (blob) =>
      checkHostKey(
        { mode: 'verify', knownHosts: parseKnownHosts(host.knownHosts), fingerprints: [] },
        host.address,
        host.port,
        blob
      ),
    hostKeyAlgorithms: undefined,
    connectTimeoutMs: 10_000,
    idleTimeoutMs: 30_000,
    keepaliveIntervalMs: 5_000,
    keepaliveCountMax: 3,
    signal: new AbortController().signal
  })
  try {
    const hasher = createRemoteHasher(connection, 2, 30_000, growAt)
    hasher.warmUp()
    const digests = await Promise.all(files.map((file) => hasher.hash(file.path, file.size)))
    hasher.close()
    return {
      digests,
      sessions:
        host
          .log()
          .slice(before)
          .match(/Starting session/g)?.length ?? 0
    }
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
})
