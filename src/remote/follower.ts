// A large file hashed on the host while it is being written (see RemoteFollower).

import { isConnectionEnded } from '../errors.js'
import type { CommandChannel, SshConnection } from '../ssh/types.js'
import type { TakenShell } from './hasher-pool.js'
import { quotePath, shellQuote } from './shell-quote.js'
import {
  DETECT_HASHER,
  END_LINE,
  hashAllowanceMs,
  HASHER_COMMAND,
  HASHERS,
  LINE_PREFIX,
  type Hasher,
  type RemoteDigest
} from './shell-protocol.js'

/**
 * Hashes a file on the server while it is being written: a command in an idle hashing shell
 * (or on its own channel, a login of its own, where none is idle) reads each stretch of the file
 * as soon as the server has acknowledged it (whole MiB blocks, with `dd`, so the bytes come from
 * the page cache) into one hashing process, and the last stretch when the upload is complete.
 * The digest is of the whole file, as the server holds it, ready moments after the last write
 * instead of a full read later.
 */
export interface RemoteFollower {
  /** The server holds (written and acknowledged) the file's first `bytes` bytes. */
  advance(bytes: number): void
  /** The file is complete: its digest, or 'unavailable' (hash it the usual way instead). */
  finish(size: number): Promise<RemoteDigest>
  close(): void
}

const BLOCK = 1024 * 1024
/** A follower in a hashing shell answers this when it is reading stretches. */
const FOLLOW_READY = 'sfd-follow'
// Stretches of at least this many blocks go to dd, so a 1 GiB file costs 32 dd processes.
const FOLLOW_STEP_BLOCKS = 32

/**
 * Reads the stretches told on stdin (a count of blocks per line, then `end`) into `hashCommand`
 * and answers `sfd-f DIGEST`, or `sfd-fail` when a stretch could not be read; either way it reads
 * every line up to `end`, then answers END_LINE. `sfd-fail` goes to fd 3, the answer's stdout.
 */
function followBody(path: string, hashCommand: string): string[] {
  return [
    `f=${quotePath(path)}`,
    'r=$( { s=0; ok=1',
    'while IFS= read -r n; do',
    '  case $n in end) break ;; esac',
    `  if [ $ok = 1 ]; then dd if="$f" bs=${BLOCK} skip=$s count=$n 2>/dev/null || { echo sfd-fail >&3; ok=0; }; fi`,
    '  s=$((s + n))',
    'done',
    `if [ $ok = 1 ]; then dd if="$f" bs=${BLOCK} skip=$s 2>/dev/null || echo sfd-fail >&3; fi; } | ${hashCommand} ) && printf 'sfd-f %s\\n' "$r"`,
    `echo ${END_LINE}`
  ]
}

/** The command of a follower on its own channel: finds the host's hasher first. */
export function followScript(path: string): string {
  return [
    ...DETECT_HASHER,
    'case $m in',
    ...HASHERS.map((hasher) => `  ${hasher}) h=${shellQuote(HASHER_COMMAND[hasher])} ;;`),
    '  *) echo sfd-nohasher; exit 0 ;;',
    'esac',
    'exec 3>&1',
    ...followBody(path, '$h')
  ].join('\n')
}

/**
 * A follower for a logged-in hashing shell (see takeShell): one brace group, which the shell
 * parses whole before running any of it. It answers FOLLOW_READY once it reads stretches, so
 * nothing sent for it is ever read as a command, and after `end` the shell reads commands again.
 */
export function followInShellScript(path: string, hasher: Hasher): string {
  return [`{ echo ${FOLLOW_READY}`, ...followBody(path, HASHER_COMMAND[hasher]), '} 3>&1', ''].join(
    '\n'
  )
}

/** Starts a follower for `path` on its own channel, or undefined when the host refuses one. */
export async function followRemoteHash(
  connection: SshConnection,
  path: string,
  idleTimeoutMs: number
): Promise<RemoteFollower | undefined> {
  let channel: CommandChannel
  try {
    channel = await connection.openCommandChannel(
      `sh -c ${shellQuote(followScript(path))}`,
      LINE_PREFIX
    )
  } catch (error) {
    if (isConnectionEnded(error)) throw error
    return undefined
  }
  return follower(channel, idleTimeoutMs, () => channel.close())
}

/**
 * Starts a follower for `path` in a hashing shell taken from the hasher (no login of its own),
 * or undefined when the shell fails to start it (the shell is closed). `done` gets the shell
 * back when the follower has finished, ready for other work; a follower closed before it
 * finished closes the shell instead.
 */
export async function followInShell(
  shell: TakenShell,
  path: string,
  idleTimeoutMs: number,
  done: (shell: TakenShell) => void
): Promise<RemoteFollower | undefined> {
  try {
    await shell.channel.request(
      followInShellScript(path, shell.hasher),
      FOLLOW_READY,
      idleTimeoutMs
    )
  } catch (error) {
    shell.channel.close()
    if (isConnectionEnded(error)) throw error
    return undefined
  }
  return follower(shell.channel, idleTimeoutMs, (finished) => {
    if (finished) done(shell)
    else shell.channel.close()
  })
}

function follower(
  channel: CommandChannel,
  idleTimeoutMs: number,
  /** The follower is over: `finished` when its answer came in full. */
  release: (finished: boolean) => void
): RemoteFollower {
  let sentBlocks = 0
  let closed = false
  return {
    advance(bytes) {
      const blocks = Math.floor(bytes / BLOCK)
      if (closed || blocks - sentBlocks < FOLLOW_STEP_BLOCKS) return
      channel.write(`${blocks - sentBlocks}\n`)
      sentBlocks = blocks
    },
    async finish(size) {
      if (closed) return 'unavailable'
      closed = true
      let lines: string[]
      try {
        lines = await channel.request(
          'end\n',
          END_LINE,
          hashAllowanceMs(idleTimeoutMs, Math.max(0, size - sentBlocks * BLOCK))
        )
      } catch (error) {
        release(false)
        if (isConnectionEnded(error)) throw error
        return 'unavailable'
      }
      release(true)
      if (lines.includes('sfd-fail')) return 'unavailable'
      const line = lines.find((candidate) => candidate.startsWith('sfd-f '))
      const sha256 = line === undefined ? undefined : /\b([0-9a-f]{64})\b/.exec(line)?.[1]
      return sha256 === undefined ? 'unavailable' : { sha256 }
    },
    close() {
      if (closed) return
      closed = true
      release(false)
    }
  }
}
