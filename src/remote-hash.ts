// SHA-256 of files on the server. OpenSSH's sftp-server has no checksum extension, so the hash
// comes from a remote command: `openssl dgst -sha256` (SHA-NI: about 5 times coreutils' speed),
// else `sha256sum`, else `shasum -a 256`. A few long-lived `sh -s` processes per connection (each
// one exec channel, so the connection stays within MaxSessions) take batches of files on stdin;
// the session start-up is paid once per connection, and openssl hashes a whole batch in one
// process. Where the host refuses commands or has no hasher, files are read back over SFTP.

import { createHash } from 'node:crypto'
import { DeployError } from './errors.js'
import type { CommandChannel, SftpSession, SshConnection } from './ssh.js'
import { commandPath, quotePath, shellQuote } from './shell-quote.js'

/** Every line of ours starts with this, so login banners and other noise are ignored. */
export const LINE_PREFIX = 'sfd-'
/** Ends every answer. */
export const END_LINE = 'sfd-end'

export const HASHERS = ['openssl', 'sha256sum', 'shasum'] as const
export type Hasher = (typeof HASHERS)[number]

/** The command each hasher runs as, reading a file on its stdin. */
const HASHER_COMMAND: Record<Hasher, string> = {
  openssl: 'openssl dgst -sha256',
  sha256sum: 'sha256sum',
  shasum: 'shasum -a 256'
}

/** Sets `m` to the fastest hasher the host has (in HASHERS order), or `none`. */
const DETECT_HASHER = [
  'if command -v openssl >/dev/null 2>&1 && openssl dgst -sha256 </dev/null >/dev/null 2>&1; then m=openssl',
  'elif command -v sha256sum >/dev/null 2>&1; then m=sha256sum',
  'elif command -v shasum >/dev/null 2>&1; then m=shasum',
  'else m=none; fi'
]

/**
 * Picks the fastest hasher the host has, once per shell: answers `sfd-hasher NAME`. Defines
 * sfd_prefix, which marks openssl's lines as ours: sed where the host has it (15 ms for 1000
 * files here), else a shell loop (40 ms).
 */
export const HASHER_PRELUDE = [
  'if command -v sed >/dev/null 2>&1; then',
  "sfd_prefix() { sed 's/^/sfd-o /'; }",
  'else',
  `sfd_prefix() { while IFS= read -r l; do printf 'sfd-o %s\\n' "$l"; done; }`,
  'fi',
  ...DETECT_HASHER,
  // Which boot of which machine this is: a host that is the runner itself shares its CPUs.
  'echo "sfd-boot $(cat /proc/sys/kernel/random/boot_id 2>/dev/null)"',
  // The directory relative paths start from, to compare with the SFTP server's.
  'echo "sfd-cwd $(pwd -P 2>/dev/null)"',
  'echo "sfd-hasher $m"',
  `echo ${END_LINE}`,
  ''
].join('\n')

/** The host's boot id from the prelude's answer, where it has one. */
export function parseBootLine(lines: readonly string[]): string | undefined {
  const id = lines
    .find((line) => line.startsWith('sfd-boot '))
    ?.slice('sfd-boot '.length)
    .trim()
  return id === undefined || id === '' ? undefined : id
}

/** The shell's working directory (symbolic links resolved) from the prelude's answer. */
export function parseCwdLine(lines: readonly string[]): string | undefined {
  const cwd = lines.find((line) => line.startsWith('sfd-cwd '))?.slice('sfd-cwd '.length)
  return cwd === undefined || cwd === '' ? undefined : cwd
}

export function parseHasherLine(lines: readonly string[]): Hasher | undefined {
  const name = lines.find((line) => line.startsWith('sfd-hasher '))?.slice('sfd-hasher '.length)
  return HASHERS.find((hasher) => hasher === name)
}

/**
 * One batch, every path through quotePath (a file named `-out` is not an option to openssl).
 * openssl takes the whole batch in one process and its output lines come back prefixed; the
 * others run once per file.
 */
export function hashBatchScript(hasher: Hasher, paths: readonly string[]): string {
  const quoted = paths.map(quotePath).join(' ')
  if (hasher === 'openssl')
    return [
      `${HASHER_COMMAND.openssl} ${quoted} 2>/dev/null | sfd_prefix`,
      `echo ${END_LINE}`,
      ''
    ].join('\n')
  return [
    `for f in ${quoted}; do`,
    `if r=$(${HASHER_COMMAND[hasher]} < "$f" 2>/dev/null); then printf 'sfd-ok %s\\n' "$r"; else echo 'sfd-err'; fi`,
    'done',
    `echo ${END_LINE}`,
    ''
  ].join('\n')
}

/**
 * What the server says of one file: its digest; 'unreadable' (the file could not be read
 * there); 'unavailable' (this host cannot hash remotely at all).
 */
export type RemoteDigest = { readonly sha256: string } | 'unreadable' | 'unavailable'

/**
 * Turns a hashing shell into a tar extraction reading the rest of the shell's stdin: the stream
 * goes to a session that is already logged in instead of a new one. One brace group, which the
 * shell parses whole before running any of it: once tar starts, the shell reads no more input,
 * and it exits after tar, whatever tar left unread, so no archive byte is ever read as a command.
 * Answers `sfd-go` when the staging directory is ready (`sfd-nogo` before it when it could not
 * be made), then `sfd-tar STATUS` (with tar's messages when it failed), then with openssl the
 * SHA-256 of every staged file (paths relative to `stage`, as `./path`), then END_LINE.
 *
 * `halves`: the staged tree's top-level entries in two groups, hashed side by side (two cores
 * where the host has them); the second group's lines wait in a file beside the others
 * (`.sfd-hashes-TAG` in the staging directory, which no top-level entry of ours is) until the
 * first group is done. Without it, or with one group empty, one process hashes everything.
 */
export function tarIntoShellScript(
  stage: string,
  hasher: Hasher,
  halves?: readonly [readonly string[], readonly string[]],
  tag = 'x'
): string {
  const quoted = quotePath(stage)
  const hash = (start: string): string =>
    `find ${start} -type f -exec ${HASHER_COMMAND.openssl} {} + 2>/dev/null | sfd_prefix`
  const starts = (names: readonly string[]): string =>
    names.map((name) => shellQuote(`./${name}`)).join(' ')
  const [first = [], second = []] = halves ?? []
  const hashing =
    hasher !== 'openssl'
      ? []
      : first.length === 0 || second.length === 0
        ? [`else ${hash('.')}`]
        : [
            `else o=${shellQuote(`./.sfd-hashes-${tag}`)}`,
            `${hash(starts(second))} > "$o" &`,
            hash(starts(first)),
            'wait',
            'cat "$o"; rm -f "$o"'
          ]
  return [
    '{',
    `rm -rf ${quoted} && mkdir -p ${quoted} && cd ${quoted} || { echo sfd-nogo; echo sfd-go; exit 3; }`,
    'echo sfd-go',
    'e=$(tar -xomf - 2>&1); s=$?',
    `echo "sfd-tar $s"`,
    'if [ "$s" != 0 ]; then printf \'%s\\n\' "$e" | sfd_prefix',
    ...hashing,
    'fi',
    `echo ${END_LINE}`,
    'exit 0',
    '}',
    ''
  ].join('\n')
}

// Top-level entries beyond this many are hashed by one process: the script stays small.
const MAX_SPLIT_ENTRIES = 2000

/**
 * The top-level entries of `paths` in two groups of about as many files each, for
 * tarIntoShellScript; undefined where there is one entry, or very many.
 */
export function splitTopLevel(
  paths: readonly string[]
): [readonly string[], readonly string[]] | undefined {
  const counts = new Map<string, number>()
  for (const path of paths) {
    const slash = path.indexOf('/')
    const top = slash < 0 ? path : path.slice(0, slash)
    counts.set(top, (counts.get(top) ?? 0) + 1)
  }
  if (counts.size < 2 || counts.size > MAX_SPLIT_ENTRIES) return undefined
  const groups: [string[], string[]] = [[], []]
  const sizes = [0, 0]
  // Largest first, each to the group with fewer files so far.
  for (const [top, count] of [...counts].sort((a, b) => b[1] - a[1])) {
    const into = (sizes[0] ?? 0) <= (sizes[1] ?? 0) ? 0 : 1
    groups[into].push(top)
    sizes[into] = (sizes[into] ?? 0) + count
  }
  return groups
}

/** What a tar stream into a shell came to: tar's exit status, its first message, the digests. */
export interface StagedAnswer {
  readonly status: number | undefined
  readonly message: string
  /** SHA-256 by path relative to the staging directory. */
  readonly digests: ReadonlyMap<string, string>
}

/**
 * Reads the answer of tarIntoShellScript. A digest counts only where its path is named once:
 * a name with a line break spans lines, and could make a line that names another file.
 */
export function parseStagedAnswer(lines: readonly string[]): StagedAnswer {
  const statusLine = lines.find((line) => line.startsWith('sfd-tar '))
  const status = statusLine === undefined ? undefined : Number(statusLine.slice(8))
  const output = lines.filter((line) => line.startsWith('sfd-o ')).map((line) => line.slice(6))
  const digests = new Map<string, string>()
  const seen = new Set<string>()
  if (status === 0)
    for (const line of output) {
      const match = /^SHA2?-?256\(\.\/(.*)\)= ([0-9a-f]{64})$/s.exec(line)
      if (match === null) continue
      const [, path = '', hex = ''] = match
      if (seen.has(path)) digests.delete(path)
      else digests.set(path, hex)
      seen.add(path)
    }
  return {
    status: Number.isInteger(status) ? status : undefined,
    message: status === 0 ? '' : (output[0] ?? ''),
    digests
  }
}

/**
 * Looks at the target before anything is sent, in a hashing shell: whether it is there, and if
 * not, makes it and answers where it is (symbolic links resolved) and the room on its file
 * system (`df -Pk`), as the SFTP server's stat, mkdir, realpath and statvfs would. Paths are
 * relative to the login directory, as the SFTP server's are.
 */
export function targetProbeScript(target: string): string {
  const quoted = quotePath(target)
  return [
    `if [ -e ${quoted} ] || [ -h ${quoted} ]; then echo sfd-probe there`,
    `elif mkdir -p ${quoted} 2>/dev/null && b=$(cd ${quoted} && pwd -P); then`,
    `  printf 'sfd-probe made\\nsfd-base %s\\n' "$b"`,
    `  df -Pk ${quoted} 2>/dev/null | sfd_prefix`,
    'else echo sfd-probe failed; fi',
    `echo ${END_LINE}`,
    ''
  ].join('\n')
}

/** A target the probe made: its absolute path, and the bytes free there when df said. */
export interface MadeTarget {
  readonly base: string
  readonly freeBytes: number | undefined
}

/** Reads targetProbeScript's answer: the target made, or undefined (there, or not made). */
export function parseTargetProbe(lines: readonly string[]): MadeTarget | undefined {
  if (!lines.includes('sfd-probe made')) return undefined
  const base = lines.find((line) => line.startsWith('sfd-base '))?.slice('sfd-base '.length)
  if (base === undefined || !base.startsWith('/')) return undefined
  // POSIX df -P: a header, then `filesystem blocks used available capacity mount` per line.
  const fields = lines
    .filter((line) => line.startsWith('sfd-o '))
    .at(-1)
    ?.slice('sfd-o '.length)
    .trim()
    .split(/\s+/)
  const available = Number(fields?.[3])
  return {
    base,
    freeBytes: fields !== undefined && Number.isInteger(available) ? available * 1024 : undefined
  }
}

/** How long a remote hasher may take over `bytes`, beyond the idle timeout. */
export function hashAllowanceMs(idleTimeoutMs: number, bytes: number): number {
  return idleTimeoutMs + bytes / MIN_HASH_BYTES_PER_MS
}

/** Reads a batch's answer: one result per path, in order. */
export function parseHashAnswer(
  hasher: Hasher,
  paths: readonly string[],
  lines: readonly string[]
): RemoteDigest[] {
  if (hasher !== 'openssl')
    return paths.map((_, index): RemoteDigest => {
      const line = lines[index] ?? ''
      const sha256 = line.startsWith('sfd-ok ')
        ? /\b([0-9a-f]{64})\b/.exec(line.slice(7))?.[1]
        : undefined
      return sha256 === undefined ? 'unreadable' : { sha256 }
    })
  // `SHA2-256(path)= hex` (OpenSSL 3) or `SHA256(path)= hex` (1.1), a line per file read, in
  // order; a name with a line break spans lines, so the text is matched name by name.
  const text = lines.map((line) => line.slice('sfd-o '.length)).join('\n')
  let position = 0
  return paths.map((path): RemoteDigest => {
    for (const label of ['SHA2-256', 'SHA256']) {
      // The path as hashBatchScript handed it to openssl.
      const head = `${label}(${commandPath(path)})= `
      if (!text.startsWith(head, position)) continue
      const hex = text.slice(position + head.length, position + head.length + 64)
      if (!/^[0-9a-f]{64}$/.test(hex)) return 'unreadable'
      position += head.length + 64 + 1
      return { sha256: hex }
    }
    return 'unreadable'
  })
}

// A batch is a script fed to the shell's stdin, so no command-line limit applies; batches stay
// moderate so that the work spreads over the shells.
const MAX_BATCH_PATHS = 1000
const MAX_BATCH_CHARS = 256 * 1024
// A remote hasher reads at least this fast; a batch gets this long per byte before the
// watchdog calls it stalled.
const MIN_HASH_BYTES_PER_MS = 20 * 1024
// A shell that has not said it is ready by then is not a shell (a forced sftp-server, say).
const READY_TIMEOUT_MS = 10_000

interface Request {
  readonly path: string
  readonly size: number
  readonly resolve: (digest: RemoteDigest) => void
  /** Where missing, a failure is answered 'unavailable'. */
  readonly reject?: (error: unknown) => void
}

/** A request's failure: its promise rejected, or 'unavailable' for hashInto's callback. */
function fail(request: Request, error: unknown): void {
  if (request.reject === undefined) request.resolve('unavailable')
  else request.reject(error)
}

export interface RemoteHasher {
  /** The file's SHA-256 as the server computes it. */
  hash(path: string, size: number): Promise<RemoteDigest>
  /**
   * As hash, the answer given to `done` instead of a promise ('unavailable' where hash would
   * reject): for thousands of files at once.
   */
  hashInto(path: string, size: number, done: (digest: RemoteDigest) => void): void
  /**
   * Starts one hashing shell now, so that its start-up overlaps other work; a second starts
   * only for a backlog past GROW_BACKLOG. Resolves once the shell has answered (or failed).
   * A hasher created held starts no shell before this.
   */
  warmUp(): Promise<void>
  /** The host has been found unable to run our shell (no exec, no session left, no hasher). */
  readonly unavailable: boolean
  /**
   * What a hashing shell said of the host's machine: its boot id (/proc/sys/kernel/random/boot_id,
   * undefined where it has none) and its working directory, where relative paths start;
   * undefined until a shell has started.
   */
  readonly machine:
    { readonly bootId: string | undefined; readonly cwd: string | undefined } | undefined
  /**
   * Takes a hashing shell out of the hasher for another use (a tar stream, which then needs no
   * login of its own): the first shell to be idle, once one is. Undefined when none is up or
   * starting. Requests queued meanwhile go to the other shells, or to a new one.
   */
  takeShell(): Promise<TakenShell | undefined>
  /** Puts a taken shell, idle, back in service. */
  giveBack(shell: TakenShell): void
  /**
   * Ends the hashing shells and answers every request 'unavailable' from now on: their sessions
   * are needed for something else (a server that allows one session at a time).
   */
  release(): void
  /** Requests not yet handed to a shell are answered 'unavailable' instead. */
  dropQueued(): void
  /** Ends the hashing shells. */
  close(): void
}

/** A started shell, its prelude run (sfd_prefix defined), handed over by takeShell. */
export interface TakenShell {
  readonly channel: CommandChannel
  readonly hasher: Hasher
}

interface Shell extends TakenShell {
  readonly bootId: string | undefined
  readonly cwd: string | undefined
  /** Batches sent and not yet answered, and their bytes. */
  batches: number
  bytes: number
}

// A shell gets its next batch before it has answered the last, so it never waits for a round
// trip between batches.
const BATCHES_PER_SHELL = 2
// A second shell is a second login (here about 140 ms of the server's CPU, shared with
// everything else): it starts only for a backlog that one shell would take longer than that to
// hash. 10,000 files of 4 KiB, five alternating rounds against a second shell grown as soon
// as batches queue: new target median 1.07 s against 1.12 s, redeploy 0.63 s against 0.61 s
// (within this machine's noise); one login fewer either way.
export const GROW_BACKLOG: Backlog = { bytes: 256 * 1024 * 1024, files: 20_000 }

/** A backlog of queued files: by their bytes, or by their count. */
export interface Backlog {
  readonly bytes: number
  readonly files: number
}

async function startShell(
  connection: SshConnection,
  idleTimeoutMs: number
): Promise<
  | { channel: CommandChannel; hasher: Hasher; bootId: string | undefined; cwd: string | undefined }
  | undefined
> {
  let channel: CommandChannel
  try {
    channel = await connection.openCommandChannel('sh -s', LINE_PREFIX)
  } catch (error) {
    if (connection.failure !== undefined) throw error
    return undefined // exec refused
  }
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), Math.min(READY_TIMEOUT_MS, idleTimeoutMs))
  })
  try {
    const answer = await Promise.race([
      channel.request(HASHER_PRELUDE, END_LINE, idleTimeoutMs),
      timedOut
    ])
    if (answer !== 'timeout') {
      const hasher = parseHasherLine(answer)
      if (hasher !== undefined)
        return { channel, hasher, bootId: parseBootLine(answer), cwd: parseCwdLine(answer) }
    }
  } catch (error) {
    if (connection.failure !== undefined) throw error
  } finally {
    clearTimeout(timer)
  }
  channel.close()
  return undefined
}

export function createRemoteHasher(
  connection: SshConnection,
  channels: number,
  idleTimeoutMs: number,
  /** The backlog worth a second shell. */
  growAt: Backlog = GROW_BACKLOG,
  /** No shell starts before warmUp (requests wait in the queue). */
  held = false
): RemoteHasher {
  const queue: Request[] = []
  // The bytes of the files in `queue`.
  let queuedBytes = 0
  /** Takes every queued request out. */
  const takeAll = (): Request[] => {
    queuedBytes = 0
    return queue.splice(0)
  }
  const shells: Shell[] = []
  // What the first shell said of the machine, kept when that shell is taken.
  let machine: { bootId: string | undefined; cwd: string | undefined } | undefined
  // Waiting in takeShell for an idle shell.
  let taker: ((shell: TakenShell | undefined) => void) | undefined
  const handOver = (shell: TakenShell | undefined): void => {
    const waiting = taker
    taker = undefined
    waiting?.(shell)
  }
  let starting = 0
  let unavailable = false
  let closed = false

  const giveUp = (): void => {
    unavailable = true
    for (const request of takeAll()) request.resolve('unavailable')
  }

  const takeBatch = (): Request[] => {
    let count = 0
    let chars = 0
    for (const next of queue) {
      const cost = next.path.length + 8
      if (count === MAX_BATCH_PATHS || (count > 0 && chars + cost > MAX_BATCH_CHARS)) break
      chars += cost
      count += 1
    }
    const batch = queue.splice(0, count)
    for (const request of batch) queuedBytes -= request.size
    return batch
  }

  const run = (shell: Shell, batch: Request[]): void => {
    const bytes = batch.reduce((sum, request) => sum + request.size, 0)
    shell.batches += 1
    shell.bytes += bytes
    const paths = batch.map((request) => request.path)
    // The batch waits for those sent before it on the same shell: its allowance covers them.
    shell.channel
      .request(
        hashBatchScript(shell.hasher, paths),
        END_LINE,
        idleTimeoutMs + shell.bytes / MIN_HASH_BYTES_PER_MS
      )
      .then(
        (lines) => {
          const answers = parseHashAnswer(shell.hasher, paths, lines)
          batch.forEach((request, index) => request.resolve(answers[index] ?? 'unreadable'))
        },
        (error: unknown) => {
          for (const request of batch) fail(request, error)
        }
      )
      .finally(() => {
        shell.batches -= 1
        shell.bytes -= bytes
        pump()
      })
  }

  let firstReady: () => void = () => undefined
  const grow = (): void => {
    starting += 1
    startShell(connection, idleTimeoutMs)
      .then(
        (started) => {
          if (started === undefined) {
            // Refused (exec forbidden, no session left, no hasher): the host cannot hash
            // unless another shell is up or still starting.
            if (shells.length === 0 && starting === 1) giveUp()
            return
          }
          if (closed) {
            started.channel.close()
            return
          }
          machine ??= { bootId: started.bootId, cwd: started.cwd }
          shells.push({ ...started, batches: 0, bytes: 0 })
        },
        (error: unknown) => {
          for (const request of takeAll()) fail(request, error)
        }
      )
      .finally(() => {
        starting -= 1
        firstReady()
        pump()
      })
  }

  const worthAnother = (): boolean =>
    shells.length === 0 || queue.length > growAt.files || queuedBytes > growAt.bytes

  function pump(): void {
    if (unavailable) {
      giveUp()
      handOver(undefined)
      return
    }
    if (taker !== undefined) {
      const idle = shells.findIndex((shell) => shell.batches === 0)
      if (idle >= 0) handOver(shells.splice(idle, 1)[0])
      else if (shells.length + starting === 0) handOver(undefined)
    }
    // While a shell is wanted, none gets more work, so that one falls idle.
    if (taker === undefined)
      for (const shell of shells)
        while (queue.length > 0 && shell.batches < BATCHES_PER_SHELL) run(shell, takeBatch())
    if (queue.length > 0 && starting === 0 && shells.length < channels && worthAnother() && !held)
      grow()
  }

  const enqueue = (request: Request): void => {
    queue.push(request)
    queuedBytes += request.size
    // Files asked for in the same turn of the event loop go out together, in full batches; a
    // full batch goes at once, so a shell starts on it while the rest are still asked for.
    if (queue.length === 1) queueMicrotask(pump)
    else if (queue.length >= MAX_BATCH_PATHS) pump()
  }

  return {
    hash(path, size) {
      if (unavailable) return Promise.resolve('unavailable')
      if (closed)
        return Promise.reject(new DeployError('remote-failure', 'the remote hasher is closed'))
      return new Promise((resolve, reject) => enqueue({ path, size, resolve, reject }))
    },
    hashInto(path, size, done) {
      if (unavailable || closed) done('unavailable')
      else enqueue({ path, size, resolve: done })
    },
    warmUp() {
      held = false
      if (shells.length + starting !== 0 || unavailable || closed) return Promise.resolve()
      const started = new Promise<void>((resolve) => {
        firstReady = resolve
      })
      grow()
      return started
    },
    get unavailable() {
      return unavailable
    },
    get machine() {
      return machine
    },
    giveBack(shell) {
      if (closed || unavailable) {
        shell.channel.close()
        return
      }
      shells.unshift({ ...shell, bootId: machine?.bootId, cwd: machine?.cwd, batches: 0, bytes: 0 })
      pump()
    },
    release() {
      unavailable = true
      for (const shell of shells.splice(0)) shell.channel.close()
      pump()
    },
    takeShell() {
      if (closed || unavailable || taker !== undefined) return Promise.resolve(undefined)
      return new Promise<TakenShell | undefined>((resolve) => {
        taker = resolve
        pump()
      })
    },
    dropQueued() {
      for (const request of takeAll()) request.resolve('unavailable')
    },
    close() {
      closed = true
      handOver(undefined)
      for (const shell of shells) shell.channel.close()
    }
  }
}

/** Reads a remote file back over SFTP and hashes it here. */
export async function readBackHash(sftp: SftpSession, path: string): Promise<string> {
  const hash = createHash('sha256')
  const handle = await sftp.open(path, 'r')
  try {
    const chunk = Math.min(sftp.maxReadLength, 256 * 1024)
    const inFlight = 8
    let position = 0
    for (;;) {
      // Issue several reads ahead; they complete in order on one SFTP channel.
      const reads: Promise<Buffer>[] = []
      for (let i = 0; i < inFlight; i += 1) {
        const buffer = Buffer.allocUnsafe(chunk)
        const at = position + i * chunk
        reads.push(sftp.read(handle, buffer, chunk, at).then((n) => buffer.subarray(0, n)))
      }
      const parts = await Promise.all(reads)
      let ended = false
      for (const part of parts) {
        hash.update(part)
        position += part.length
        // End of file reads as 0 bytes; a short read is legal too, and the reads issued past
        // it are dropped and issued again from where it stopped.
        if (part.length === 0) ended = true
        if (part.length < chunk) break
      }
      if (ended) break
    }
  } finally {
    await sftp.close(handle).catch(() => undefined)
  }
  return hash.digest('hex')
}

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
    if (connection.failure !== undefined) throw error
    return undefined
  }
  return follower(connection, channel, idleTimeoutMs, () => channel.close())
}

/**
 * Starts a follower for `path` in a hashing shell taken from the hasher (no login of its own),
 * or undefined when the shell fails to start it (the shell is closed). `done` gets the shell
 * back when the follower has finished, ready for other work; a follower closed before it
 * finished closes the shell instead.
 */
export async function followInShell(
  connection: SshConnection,
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
    if (connection.failure !== undefined) throw error
    return undefined
  }
  return follower(connection, shell.channel, idleTimeoutMs, (finished) => {
    if (finished) done(shell)
    else shell.channel.close()
  })
}

function follower(
  connection: SshConnection,
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
          idleTimeoutMs + Math.max(0, size - sentBlocks * BLOCK) / MIN_HASH_BYTES_PER_MS
        )
      } catch (error) {
        release(false)
        if (connection.failure !== undefined) throw error
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
