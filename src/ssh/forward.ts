// TCP connections a server opens on our behalf (`direct-tcpip`, as `ssh -J` uses them): the way
// through a jump host to the next host of the chain.

import type { Duplex } from 'node:stream'
import { DeployError } from '../errors.js'
import type { RequestTracker } from './request-tracker.js'
import type { Client } from './ssh2.js'

// SSH_MSG_CHANNEL_OPEN_FAILURE reason codes (RFC 4254, 5.1).
const ADMINISTRATIVELY_PROHIBITED = 1
const CONNECT_FAILED = 2

/**
 * Asks the server behind `client` to connect to `host`:`port` and hand the stream over. The
 * request has `timeoutMs` (the connect timeout) of its own: a next host that never answers fails
 * this forward alone, not the connection it goes through (the idle watchdog leaves it be).
 */
export function forwardOut(
  client: Client,
  requests: RequestTracker,
  context: { readonly label: string; readonly timeoutMs: number },
  host: string,
  port: number
): Promise<Duplex> {
  const to = `${host.includes(':') ? `[${host}]` : host}:${port}`
  return requests.track<Duplex>(`forwarding to ${to}`, Infinity, (resolve, reject) => {
    let late = false
    const timer = setTimeout(() => {
      late = true
      reject(
        new DeployError(
          'timeout',
          `${context.label}: ${to} did not answer within ${context.timeoutMs / 1000}s (the connect timeout)`
        )
      )
    }, context.timeoutMs)
    client.forwardOut('127.0.0.1', 0, host, port, (error, stream) => {
      clearTimeout(timer)
      if (error !== undefined) {
        reject(forwardError(error, context.label, to))
        return
      }
      // The next connection listens too; until then an error must not go unheard.
      stream.on('error', () => undefined)
      // Given up on already: nobody will use it.
      if (late) stream.destroy()
      else resolve(stream)
    })
  })
}

/** Why a forward failed: refused by the server, or by the host it was to reach. */
export function forwardError(error: Error, label: string, to: string): DeployError {
  const reason = (error as { reason?: unknown }).reason
  if (reason === ADMINISTRATIVELY_PROHIBITED)
    return new DeployError(
      'permission',
      `${label}: refused to forward to ${to} (${error.message}): is AllowTcpForwarding (or DisableForwarding) set against it there?`,
      { cause: error }
    )
  if (reason === CONNECT_FAILED)
    return new DeployError(
      'network',
      `${label}: ${to} refused the connection, or could not be reached from there (${error.message})`,
      { cause: error }
    )
  return new DeployError('network', `${label}: could not forward to ${to} (${error.message})`, {
    cause: error
  })
}
