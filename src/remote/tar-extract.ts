// The host's side of a tar stream: the commands that extract it into a staging directory (a
// command of its own, or a hashing shell turned into one), and the answer the shell gives.

import { quotePath, shellQuote } from './shell-quote.js'
import { END_LINE, HASHER_COMMAND, type Hasher } from './shell-protocol.js'

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
 * The command a tar stream goes to: it waits for the word to go, so a stream that never starts
 * (a local file unreadable before the first byte) creates nothing on the host, then extracts into
 * a fresh staging directory.
 */
export function tarCommand(stage: string): string {
  const quoted = quotePath(stage)
  return `IFS= read -r go && [ "$go" = go ] || exit 3; rm -rf ${quoted} && mkdir -p ${quoted} && cd ${quoted} && exec tar -xomf -`
}

/** The command that removes a staging directory and everything in it. */
export function removeCommand(stage: string): string {
  return `rm -rf ${quotePath(stage)}`
}
