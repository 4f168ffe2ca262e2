// Jump chains against fake connections (our own SshConnection interface): each hop reached
// through the one before, hop connections shared and closed, failures named by hop.

import { PassThrough, type Duplex } from 'node:stream'
import { describe, expect, test } from 'vitest'
import type { Credentials, Destination, Endpoint, Settings } from '../../src/config/settings.js'
import { ConnectionEndedError, DeployError, HostKeyError } from '../../src/errors.js'
import { JumpConnections, type OpenEndpoint } from '../../src/deploy/jump.js'
import type { SshConnection } from '../../src/ssh/types.js'

const credentials: Credentials = {
  privateKey: 'k',
  passphrase: undefined,
  password: undefined,
  description: 'key'
}
const hostKeys = { mode: 'insecure' } as const

const endpoint = (host: string): Endpoint => ({
  user: 'u',
  host,
  port: 22,
  label: `u@${host}:22`,
  credentials,
  hostKeys
})

const destination = (host: string, hops: string[]): Destination => ({
  ...endpoint(host),
  target: 't',
  jump: hops.map(endpoint),
  labels: []
})

/** A fake network: who was connected to over what, forwards asked for, connections closed. */
function fakeNetwork(fault: (label: string) => DeployError | undefined = () => undefined) {
  const opened: { label: string; via: string | undefined }[] = []
  const closed: string[] = []
  const connections = new Map<string, { failure: DeployError | undefined }>()
  const streams = new WeakMap<Duplex, string>()
  const open: OpenEndpoint = (to, _settings, _signal, sock) => {
    opened.push({ label: to.label, via: sock === undefined ? undefined : streams.get(sock) })
    const error = fault(to.label)
    if (error !== undefined) return Promise.reject(error)
    const state = { failure: undefined as DeployError | undefined }
    connections.set(to.label, state)
    const connection: SshConnection = {
      sftp: () => Promise.reject(new Error('no')),
      exec: () => Promise.reject(new Error('no')),
      streamToCommand: () => Promise.reject(new Error('no')),
      openCommandChannel: () => Promise.reject(new Error('no')),
      forward: (host, port) => {
        const refused = fault(`${to.label}>${host}`)
        if (refused !== undefined) return Promise.reject(refused)
        const stream = new PassThrough()
        streams.set(stream, `${to.label}>${host}:${port}`)
        return Promise.resolve(stream)
      },
      get failure() {
        return state.failure
      },
      close: () => {
        closed.push(to.label)
        return Promise.resolve()
      }
    }
    return Promise.resolve(connection)
  }
  return { open, opened, closed, connections }
}

const settings = {} as Settings
const signal = new AbortController().signal

describe('hosts behind jump hosts', () => {
  test('each hop through the one before, the host through the last', async () => {
    const net = fakeNetwork()
    const jumps = new JumpConnections(settings, signal, net.open)
    const connection = await jumps.connect(destination('web', ['b1', 'b2']), signal)
    expect(net.opened).toEqual([
      { label: 'u@b1:22', via: undefined },
      { label: 'u@b2:22', via: 'u@b1:22>b2:22' },
      { label: 'u@web:22', via: 'u@b2:22>web:22' }
    ])
    await connection.close()
    // The host's close lets go of the hops: nobody else uses them, so they are closed.
    await new Promise((resolve) => setImmediate(resolve))
    expect(net.closed.sort()).toEqual(['u@b1:22', 'u@b2:22', 'u@web:22'])
  })

  test('hosts behind the same bastion share its connection while any of them uses it', async () => {
    const net = fakeNetwork()
    const jumps = new JumpConnections(settings, signal, net.open)
    const [a, b, c] = await Promise.all(
      ['a', 'b', 'c'].map((host) => jumps.connect(destination(host, ['bastion']), signal))
    )
    expect(net.opened.filter((entry) => entry.label === 'u@bastion:22')).toHaveLength(1)
    await a?.close()
    await b?.close()
    await new Promise((resolve) => setImmediate(resolve))
    expect(net.closed).not.toContain('u@bastion:22')
    await c?.close()
    await new Promise((resolve) => setImmediate(resolve))
    expect(net.closed).toContain('u@bastion:22')
  })

  test('a bastion connection that has failed is not shared again: the next host opens a new one', async () => {
    const net = fakeNetwork()
    const jumps = new JumpConnections(settings, signal, net.open)
    const first = await jumps.connect(destination('a', ['bastion']), signal)
    const state = net.connections.get('u@bastion:22')
    if (state !== undefined)
      state.failure = new ConnectionEndedError(new DeployError('connection-lost', 'cut'))
    await jumps.connect(destination('b', ['bastion']), signal)
    expect(net.opened.filter((entry) => entry.label === 'u@bastion:22')).toHaveLength(2)
    await first.close()
  })

  test('a failure is named by its hop, its kind kept', async () => {
    const refusedForward = fakeNetwork((label) =>
      label === 'u@b2:22>web'
        ? new DeployError('permission', 'u@b2:22: refused to forward to web:22')
        : undefined
    )
    await expect(
      new JumpConnections(settings, signal, refusedForward.open).connect(
        destination('web', ['b1', 'b2']),
        signal
      )
    ).rejects.toMatchObject({
      kind: 'permission',
      message: 'u@web:22: jump host u@b2:22 (hop 2 of 2): refused to forward to web:22'
    })
    const badKey = fakeNetwork((label) =>
      label === 'u@b1:22'
        ? new DeployError('host-key', 'u@b1:22: host key verification failed')
        : undefined
    )
    const jumps = new JumpConnections(settings, signal, badKey.open)
    await expect(jumps.connect(destination('web', ['b1']), signal)).rejects.toMatchObject({
      kind: 'host-key',
      message: 'u@web:22: jump host u@b1:22 (hop 1 of 1): host key verification failed'
    })
    // Nothing was opened to the host itself.
    expect(badKey.opened.map((entry) => entry.label)).toEqual(['u@b1:22'])
  })

  test('a host without jump hosts is connected to directly', async () => {
    const net = fakeNetwork()
    await new JumpConnections(settings, signal, net.open).connect(destination('web', []), signal)
    expect(net.opened).toEqual([{ label: 'u@web:22', via: undefined }])
  })

  test('a shared hop that fails names each host behind it, not the one that opened it', async () => {
    const net = fakeNetwork((label) =>
      label === 'u@bastion:22'
        ? new DeployError('auth', 'u@bastion:22: authentication failed')
        : undefined
    )
    const jumps = new JumpConnections(settings, signal, net.open)
    const errors = await Promise.all(
      ['a', 'b'].map((host) =>
        jumps.connect(destination(host, ['bastion']), signal).catch((error: unknown) => error)
      )
    )
    expect(errors.map((error) => (error as Error).message)).toEqual([
      'u@a:22: jump host u@bastion:22 (hop 1 of 1): authentication failed',
      'u@b:22: jump host u@bastion:22 (hop 1 of 1): authentication failed'
    ])
    // One try at the bastion for both.
    expect(net.opened.filter((entry) => entry.label === 'u@bastion:22')).toHaveLength(1)
  })

  test("a jump host's wrong key stays a HostKeyError, with its type and fingerprint", async () => {
    const net = fakeNetwork((label) =>
      label === 'u@b1:22'
        ? new HostKeyError('u@b1:22: host key verification failed', 'ssh-ed25519', 'SHA256:abc')
        : undefined
    )
    const error = await new JumpConnections(settings, signal, net.open)
      .connect(destination('web', ['b1']), signal)
      .catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(HostKeyError)
    expect(error).toMatchObject({ kind: 'host-key', fingerprint: 'SHA256:abc' })
  })

  test('a forwarded stream the next connection did not take is closed', async () => {
    const streams: Duplex[] = []
    const base = fakeNetwork((label) =>
      label === 'u@web:22' ? new DeployError('auth', 'u@web:22: authentication failed') : undefined
    )
    const open: OpenEndpoint = async (to, s, sig, sock) => {
      if (sock !== undefined) streams.push(sock)
      return base.open(to, s, sig, sock)
    }
    await expect(
      new JumpConnections(settings, signal, open).connect(destination('web', ['b1']), signal)
    ).rejects.toThrow(/authentication failed/)
    expect(streams).toHaveLength(1)
    expect(streams[0]?.destroyed).toBe(true)
  })
})
