// ssh2's ConnectConfig, built from our ConnectOptions: which credentials are tried and in what
// order, where the server's host key is checked, which algorithms are offered, keepalive.

import type { Readable } from 'node:stream'
import type { HostKeyError } from '../errors.js'
import type { ConnectConfig } from './ssh2.js'
import type { ConnectOptions } from './types.js'

/**
 * The config for one connection over `socket`. An agent's keys are tried first, then a key, then a password, then
 * keyboard-interactive with the password as every answer. A host key that `checkHostKey`
 * rejects stops the key exchange; its error goes to `rejectedHostKey` first, since ssh2 itself
 * reports only that the key was refused.
 */
export function clientConfig(
  options: ConnectOptions,
  socket: Readable,
  rejectedHostKey: (error: HostKeyError) => void
): ConnectConfig {
  const config: ConnectConfig = {
    sock: socket,
    host: options.host,
    port: options.port,
    username: options.username,
    readyTimeout: options.connectTimeoutMs,
    keepaliveInterval: options.keepaliveIntervalMs,
    keepaliveCountMax: options.keepaliveCountMax,
    tryKeyboard: options.password !== undefined,
    authHandler: authMethods(options) as ConnectConfig['authHandler'],
    hostVerifier: (blob: Buffer) => {
      const verdict = options.checkHostKey(blob)
      if (!verdict.ok) rejectedHostKey(verdict.error)
      return verdict.ok
    },
    ...(options.hostKeyAlgorithms === undefined
      ? {}
      : { algorithms: { serverHostKey: [...options.hostKeyAlgorithms] as never } })
  }
  if (options.agent !== undefined) config.agent = options.agent
  if (options.privateKey !== undefined) config.privateKey = options.privateKey
  if (options.passphrase !== undefined) config.passphrase = options.passphrase
  if (options.password !== undefined) config.password = options.password
  return config
}

/** A further key to try, in the form ssh2's authHandler takes it. */
export interface PublicKeyAttempt {
  readonly type: 'publickey'
  readonly username: string
  readonly key: string
  readonly passphrase?: string
}

/** The authentication methods to try, in order, for the credentials given. */
export function authMethods(options: ConnectOptions): (string | PublicKeyAttempt)[] {
  const methods: (string | PublicKeyAttempt)[] = []
  if (options.agent !== undefined) methods.push('agent')
  if (options.privateKey !== undefined) methods.push('publickey')
  for (const { key, passphrase } of options.moreKeys ?? [])
    methods.push({
      type: 'publickey',
      username: options.username,
      key,
      ...(passphrase === undefined ? {} : { passphrase })
    })
  if (options.password !== undefined) methods.push('password', 'keyboard-interactive')
  return methods
}

/** Keyboard-interactive answers: the password for every prompt. */
export function promptAnswers(options: ConnectOptions, prompts: readonly unknown[]): string[] {
  return prompts.map(() => options.password ?? '')
}
