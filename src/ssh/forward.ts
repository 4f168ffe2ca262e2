// TCP connections a server opens on our behalf (`direct-tcpip`, as `ssh -J` uses them): the way
// through a jump host to the next host of the chain.

import type { Duplex } from 'node:stream'
import { DeployError } from '../errors.js'
import type { RequestTracker } from './request-tracker.js'
import type { Client } from './ssh2.js'

// SSH_MSG_CHANNEL_OPEN_FAILURE reason codes (RFC 4254, 5.1).
const ADMINISTRATIVELY_PROHIBITED = 1
const CONNECT_FAILED = 2

/** Asks the server behind `client` to connect to `host`:`port` and hand the stream over. */
export function forwardOut(
  client: Client,
  requests: RequestTracker,
  context: { readonly label: string; readonly idleTimeoutMs: number },
  host: string,
  port: number
): Promise<Duplex> {
  const to = `${host.includes(':') ? `[${host}]` : host}:${port}`
  return requests.track<Duplex>(`forwarding to ${to}`, context.idleTimeoutMs, (resolve, reject) => {
    client.forwardOut('127.0.0.1', 0, host, port, (error, stream) => {
      if (error !== undefined) {
        reject(forwardError(error, context.label, to))
        return
      }
      // The next connection listens too; until then an error must not go unheard.
      stream.on('error', () => undefined)
      resolve(stream)
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
