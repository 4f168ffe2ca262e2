import { PassThrough } from 'node:stream'
import { describe, expect, test } from 'vitest'
import { HostKeyError } from '../../src/errors.js'
import { authMethods, clientConfig, promptAnswers } from '../../src/ssh/client-config.js'
import type { ConnectOptions, HostKeyCheck } from '../../src/ssh/types.js'

const rejected = new HostKeyError('deploy@web:22: host key not trusted', 'ssh-ed25519', 'SHA256:x')

function options(overrides: Partial<ConnectOptions> = {}): ConnectOptions {
  return {
    host: 'web',
    port: 2222,
    username: 'deploy',
    privateKey: undefined,
    passphrase: undefined,
    password: undefined,
    checkHostKey: (): HostKeyCheck => ({ ok: true }),
    hostKeyAlgorithms: undefined,
    connectTimeoutMs: 15_000,
    idleTimeoutMs: 30_000,
    keepaliveIntervalMs: 5_000,
    keepaliveCountMax: 3,
    signal: new AbortController().signal,
    label: 'deploy@web:2222',
    ...overrides
  }
}

describe("ssh2's config", () => {
  test('a key is tried first, then the password, then keyboard-interactive', () => {
    expect(authMethods(options({ privateKey: 'KEY' }))).toEqual(['publickey'])
    expect(authMethods(options({ password: 'pw' }))).toEqual(['password', 'keyboard-interactive'])
    expect(authMethods(options({ privateKey: 'KEY', password: 'pw' }))).toEqual([
      'publickey',
      'password',
      'keyboard-interactive'
    ])
    expect(authMethods(options())).toEqual([])
  })

  test('further keys are tried in turn after the first, each with its passphrase, before the password', () => {
    expect(
      authMethods(
        options({
          agent: '/run/agent.sock',
          privateKey: 'KEY1',
          moreKeys: [
            { key: 'KEY2', passphrase: undefined },
            { key: 'KEY3', passphrase: 'pp3' }
          ],
          password: 'pw'
        })
      )
    ).toEqual([
      'agent',
      'publickey',
      { type: 'publickey', username: 'deploy', key: 'KEY2' },
      { type: 'publickey', username: 'deploy', key: 'KEY3', passphrase: 'pp3' },
      'password',
      'keyboard-interactive'
    ])
  })

  test('carries the credentials given and no others', () => {
    const socket = new PassThrough()
    const withKey = clientConfig(options({ privateKey: 'KEY', passphrase: 'pp' }), socket, () => {})
    expect(withKey).toMatchObject({ privateKey: 'KEY', passphrase: 'pp', tryKeyboard: false })
    expect(withKey).not.toHaveProperty('password')
    expect(withKey.authHandler).toEqual(['publickey'])

    const withPassword = clientConfig(options({ password: 'pw' }), socket, () => {})
    expect(withPassword).toMatchObject({ password: 'pw', tryKeyboard: true })
    expect(withPassword).not.toHaveProperty('privateKey')
    expect(withPassword).not.toHaveProperty('passphrase')
  })

  test('uses the socket given, the connect timeout and keepalive', () => {
    const socket = new PassThrough()
    const config = clientConfig(options(), socket, () => {})
    expect(config.sock).toBe(socket)
    expect(config).toMatchObject({
      host: 'web',
      port: 2222,
      username: 'deploy',
      readyTimeout: 15_000,
      keepaliveInterval: 5_000,
      keepaliveCountMax: 3
    })
  })

  test("offers the host key algorithms given, or ssh2's own", () => {
    const socket = new PassThrough()
    expect(clientConfig(options(), socket, () => {})).not.toHaveProperty('algorithms')
    const config = clientConfig(
      options({ hostKeyAlgorithms: ['ssh-ed25519', 'rsa-sha2-512'] }),
      socket,
      () => {}
    )
    expect(config.algorithms?.serverHostKey).toEqual(['ssh-ed25519', 'rsa-sha2-512'])
  })

  test('a host key the check rejects stops the key exchange and hands over its error', () => {
    const seen: HostKeyError[] = []
    const keys: Buffer[] = []
    const check = (blob: Buffer): HostKeyCheck => {
      keys.push(blob)
      return blob.toString() === 'good' ? { ok: true } : { ok: false, error: rejected }
    }
    const config = clientConfig(options({ checkHostKey: check }), new PassThrough(), (error) =>
      seen.push(error)
    )
    const verify = config.hostVerifier as (key: Buffer) => boolean
    expect(verify(Buffer.from('good'))).toBe(true)
    expect(seen).toEqual([])
    expect(verify(Buffer.from('bad'))).toBe(false)
    expect(seen).toEqual([rejected])
    expect(keys.map(String)).toEqual(['good', 'bad'])
  })

  test('keyboard-interactive prompts are answered with the password', () => {
    expect(promptAnswers(options({ password: 'pw' }), [{}, {}])).toEqual(['pw', 'pw'])
    expect(promptAnswers(options(), [{}])).toEqual([''])
  })
})
