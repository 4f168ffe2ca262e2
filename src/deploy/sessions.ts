// An attempt's connection and its two sessions, each a login: the SFTP session and the hashing
// shell (with `verify: sha256`), asked for in the order the files need them.

import type { Duplex } from 'node:stream'
import { hostKeyAlgorithms, hostKeyChecker } from '../config/host-key.js'
import type { Endpoint, Settings } from '../config/settings.js'
import { ChannelRefusedError, isConnectionEnded, type DeployError } from '../errors.js'
import { createRemoteHasher, GROW_BACKLOG, type RemoteHasher } from '../remote/hasher-pool.js'
import { connect } from '../ssh/connect.js'
import type { SftpSession, SshConnection } from '../ssh/types.js'
import type { Connected } from './types.js'

// Internal limits not worth an input.
const KEEPALIVE_COUNT_MAX = 3
/** Exec channels for hashing; with the SFTP channel, 3 of OpenSSH's default MaxSessions (10). */
const HASH_CHANNELS = 2
// The longest the SFTP session waits for the hashing shell to log in first.
const SFTP_AFTER_SHELL_MS = 1000

/**
 * A new connection to `endpoint` with its credentials and host keys, the settings' timeouts and
 * keepalive; over `sock` (a jump host's forward) where given, else over TCP.
 */
export function openConnection(
  endpoint: Endpoint,
  settings: Settings,
  signal: AbortSignal,
  sock?: Duplex,
  carrierFailure?: () => DeployError | undefined
): Promise<SshConnection> {
  const { credentials, hostKeys } = endpoint
  return connect({
    host: endpoint.host,
    port: endpoint.port,
    username: endpoint.user,
    label: endpoint.label,
    privateKey: credentials.privateKey,
    passphrase: credentials.passphrase,
    ...(credentials.moreKeys === undefined ? {} : { moreKeys: credentials.moreKeys }),
    password: credentials.password,
    ...(credentials.agent === undefined ? {} : { agent: credentials.agent }),
    checkHostKey: hostKeyChecker(hostKeys, endpoint),
    hostKeyAlgorithms: hostKeyAlgorithms(hostKeys, endpoint.host, endpoint.port),
    connectTimeoutMs: settings.connectTimeoutMs,
    idleTimeoutMs: settings.idleTimeoutMs,
    keepaliveIntervalMs: settings.keepaliveIntervalMs,
    keepaliveCountMax: KEEPALIVE_COUNT_MAX,
    signal,
    ...(sock === undefined ? {} : { sock }),
    ...(carrierFailure === undefined ? {} : { carrierFailure })
  })
}

/**
 * The hashing shells of a connection, with `verify: sha256`. Where the shell goes second, it
 * starts only once asked to (warmUp).
 */
export function createHasher(
  settings: Settings,
  connection: SshConnection,
  shellFirst: boolean
): RemoteHasher | undefined {
  if (settings.verify !== 'sha256') return undefined
  return createRemoteHasher(
    connection,
    HASH_CHANNELS,
    settings.idleTimeoutMs,
    GROW_BACKLOG,
    !shellFirst
  )
}

/** The SFTP session to come. (A promise in a field: awaiting the result does not wait for it.) */
export interface SftpOpening {
  readonly session: Promise<SftpSession>
}

/**
 * Asks for the sessions. The one the files need first is asked for first, and the other once it
 * is up (logins can take turns: see SessionGate). Where many small files are to go as a tar
 * stream (`shellFirst`), the shell takes the stream and SFTP only publishes, so the shell goes
 * first; otherwise SFTP does, which also gives SFTP the one session of a server with
 * MaxSessions 1. `firstSessionUp` tells the other hosts this one's first session is up.
 */
export async function openSessions(
  connected: Connected,
  shellFirst: boolean,
  firstSessionUp: () => void
): Promise<SftpOpening> {
  const { connection, hasher, sessions, settings } = connected
  let session: Promise<SftpSession>
  if (hasher === undefined) {
    session = connection.sftp()
    void session.finally(firstSessionUp).catch(() => undefined)
  } else if (shellFirst) {
    // Asked for once the shell has logged in (or at most a second later), so that the shell's
    // login goes first.
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      hasher.warmUp(),
      new Promise((resolve) => (timer = setTimeout(resolve, SFTP_AFTER_SHELL_MS)))
    ])
    clearTimeout(timer)
    firstSessionUp()
    session = sessions
      .second()
      .then(() => sftpAfterShell(connection, hasher, settings.idleTimeoutMs))
  } else {
    // SFTP's login goes first and the shell's follows it: the files go over SFTP, and the shell
    // is wanted once they are sent, or to compare what is there.
    session = connection.sftp()
    void session
      .finally(firstSessionUp)
      .then(
        () => sessions.second(),
        () => undefined
      )
      .then(() => hasher.warmUp())
  }
  // Dropped unread when the stream into the shell fails first.
  session.catch(() => undefined)
  return { session }
}

/**
 * The SFTP session, asked for after the hashing shell's: a server that allows one session at a
 * time (MaxSessions 1) gave that one to the shell, which makes way (once done with a tar stream
 * it has taken), and SFTP is asked for again until the shell's session has ended (for up to the
 * idle timeout).
 */
async function sftpAfterShell(
  connection: SshConnection,
  hasher: RemoteHasher,
  idleTimeoutMs: number
): Promise<SftpSession> {
  try {
    return await connection.sftp()
  } catch (error) {
    if (isConnectionEnded(error) || !(error instanceof ChannelRefusedError)) throw error
    hasher.release()
    for (let waited = 0; ;) {
      const wait = Math.min(50 + waited / 2, 500)
      await new Promise((resolve) => setTimeout(resolve, wait))
      waited += wait
      try {
        return await connection.sftp()
      } catch (again) {
        if (waited >= idleTimeoutMs || isConnectionEnded(again)) throw again
      }
    }
  }
}
