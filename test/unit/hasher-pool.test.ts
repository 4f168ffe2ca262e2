// The hasher pool against a fake connection (our own SshConnection interface): batches, shells
// started and handed out, a host that refuses commands, a connection that has ended.

import { createHash } from 'node:crypto'
import { describe, expect, test } from 'vitest'
import { ConnectionEndedError, DeployError } from '../../src/errors.js'
import { createRemoteHasher } from '../../src/remote/hasher-pool.js'
import { commandPath } from '../../src/remote/shell-quote.js'
import type { CommandChannel, SshConnection } from '../../src/ssh/types.js'

const digestOf = (path: string): string => createHash('sha256').update(path).digest('hex')

interface FakeHost {
  readonly connection: SshConnection
  /** Shells opened so far. */
  readonly opened: () => number
  /** The paths of each batch, in the order asked. */
  readonly batches: string[][]
}

/**
 * A host whose hashing shells answer the prelude (openssl) and every batch with each file's
 * "digest" (the SHA-256 of its path), the way openssl prints it; `open` decides each channel.
 */
function fakeHost(open: (count: number) => 'shell' | Error = () => 'shell'): FakeHost {
  let opened = 0
  const batches: string[][] = []
  const shell = (): CommandChannel => ({
    request(input, terminator) {
      if (input.includes('sfd-hasher'))
        return Promise.resolve(['sfd-boot b', 'sfd-cwd /home/u', 'sfd-hasher openssl'])
      // The paths openssl is handed (the line before them only looks for links among them).
      const hashing = input.split('\n').find((line) => line.startsWith('openssl ')) ?? ''
      const paths = [...hashing.matchAll(/'([^']*)'/g)].map((match) => match[1] ?? '')
      batches.push(paths)
      expect(terminator).toBe('sfd-end')
      return Promise.resolve(
        paths.map((path) => `sfd-o SHA2-256(${path})= ${digestOf(path.replace(/^\.\//, ''))}`)
      )
    },
    write: () => undefined,
    send: () => Promise.resolve(),
    close: () => undefined
  })
  const connection: SshConnection = {
    openCommandChannel() {
      opened += 1
      const what = open(opened)
      return what === 'shell' ? Promise.resolve(shell()) : Promise.reject(what)
    },
    sftp: () => Promise.reject(new Error('not in this test')),
    forward: () => Promise.reject(new Error('not in this test')),
    exec: () => Promise.reject(new Error('not in this test')),
    streamToCommand: () => Promise.reject(new Error('not in this test')),
    failure: undefined,
    close: () => Promise.resolve()
  }
  return { connection, opened: () => opened, batches }
}

describe('the hasher pool', () => {
  test('files asked for together go out in full batches, each answered in order', async () => {
    const host = fakeHost()
    const hasher = createRemoteHasher(host.connection, 2, 30_000)
    const paths = Array.from({ length: 2500 }, (_, index) => `dir/-f${index}`)
    const answers = await Promise.all(paths.map((path) => hasher.hash(path, 10)))
    expect(answers).toEqual(paths.map((path) => ({ sha256: digestOf(path) })))
    expect(host.batches.map((batch) => batch.length)).toEqual([1000, 1000, 500])
    // Every path is handed to the hasher ./-prefixed: never an option.
    expect(host.batches.flat()).toEqual(paths.map(commandPath))
    // A small backlog is not worth a second login.
    expect(host.opened()).toBe(1)
    expect(hasher.machine).toEqual({ bootId: 'b', cwd: '/home/u' })
  })

  test('a host that refuses commands: every file is unavailable, to be read back instead', async () => {
    const host = fakeHost(() => new DeployError('protocol', 'refused'))
    const hasher = createRemoteHasher(host.connection, 2, 30_000)
    await expect(hasher.hash('a', 1)).resolves.toBe('unavailable')
    expect(hasher.unavailable).toBe(true)
    const later: unknown[] = []
    hasher.hashInto('b', 1, (answer) => later.push(answer))
    expect(later).toEqual(['unavailable'])
  })

  test('a connection that has ended fails the files asked for with its error', async () => {
    const ended = new ConnectionEndedError(new DeployError('connection-lost', 'gone'))
    const hasher = createRemoteHasher(fakeHost(() => ended).connection, 2, 30_000)
    await expect(hasher.hash('a', 1)).rejects.toBe(ended)
  })

  test('a shell taken for a tar stream leaves the others to hash, and comes back', async () => {
    const host = fakeHost()
    const hasher = createRemoteHasher(host.connection, 2, 30_000, { bytes: 1, files: 1 })
    await hasher.warmUp()
    const taken = await hasher.takeShell()
    expect(taken?.hasher).toBe('openssl')
    // With the one shell taken, a new one starts for the files asked meanwhile.
    await expect(hasher.hash('x', 1)).resolves.toEqual({ sha256: digestOf('x') })
    expect(host.opened()).toBe(2)
    if (taken !== undefined) hasher.giveBack(taken)
    await expect(hasher.hash('y', 1)).resolves.toEqual({ sha256: digestOf('y') })
    expect(host.opened()).toBe(2)
  })

  test('held, no shell starts before warmUp; released, everything is unavailable', async () => {
    const host = fakeHost()
    const hasher = createRemoteHasher(host.connection, 2, 30_000, undefined, true)
    const answer = hasher.hash('a', 1)
    await new Promise((resolve) => setImmediate(resolve))
    expect(host.opened()).toBe(0)
    await hasher.warmUp()
    await expect(answer).resolves.toEqual({ sha256: digestOf('a') })
    hasher.release()
    await expect(hasher.hash('b', 1)).resolves.toBe('unavailable')
  })
})
