// The protocol of our remote shells. OpenSSH's sftp-server has no checksum extension, so a
// file's SHA-256 comes from a remote command: `openssl dgst -sha256` (SHA-NI), else
// `sha256sum`, else `shasum -a 256`. Long-lived `sh -s` processes (one exec channel each) take
// scripts on stdin and answer in lines that start with LINE_PREFIX, each answer ended by
// END_LINE; anything else they print (a login banner, say) is ignored.

import { commandPath, quotePath } from './shell-quote.js'

/** Every line of ours starts with this, so login banners and other noise are ignored. */
export const LINE_PREFIX = 'sfd-'
/** Ends every answer. */
export const END_LINE = 'sfd-end'

export const HASHERS = ['openssl', 'sha256sum', 'shasum'] as const
export type Hasher = (typeof HASHERS)[number]

/** The command each hasher runs as, reading a file on its stdin. */
export const HASHER_COMMAND: Record<Hasher, string> = {
  openssl: 'openssl dgst -sha256',
  sha256sum: 'sha256sum',
  shasum: 'shasum -a 256'
}

/** Sets `m` to the fastest hasher the host has (in HASHERS order), or `none`. */
export const DETECT_HASHER = [
  'if command -v openssl >/dev/null 2>&1 && openssl dgst -sha256 </dev/null >/dev/null 2>&1; then m=openssl',
  'elif command -v sha256sum >/dev/null 2>&1; then m=sha256sum',
  'elif command -v shasum >/dev/null 2>&1; then m=shasum',
  'else m=none; fi'
]

/**
 * Picks the fastest hasher the host has, once per shell: answers `sfd-hasher NAME`. Defines
 * sfd_prefix, which marks openssl's lines as ours: sed where the host has it (faster), else a
 * shell loop.
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
 * others run once per file. A path that is a symbolic link is never hashed as what it points to
 * (a file of the build there is not the host's until it replaces the link): the shell names
 * each such path by its 1-based place (`sfd-link N`), and it reads as unreadable.
 */
export function hashBatchScript(hasher: Hasher, paths: readonly string[]): string {
  const quoted = paths.map(quotePath).join(' ')
  if (hasher === 'openssl')
    return [
      `i=0; for f in ${quoted}; do i=$((i+1)); if [ -h "$f" ]; then echo "sfd-link $i"; fi; done`,
      `${HASHER_COMMAND.openssl} ${quoted} 2>/dev/null | sfd_prefix`,
      `echo ${END_LINE}`,
      ''
    ].join('\n')
  return [
    `for f in ${quoted}; do`,
    `if [ ! -h "$f" ] && r=$(${HASHER_COMMAND[hasher]} < "$f" 2>/dev/null); then printf 'sfd-ok %s\\n' "$r"; else echo 'sfd-err'; fi`,
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

// A remote hasher reads at least this fast; a request gets this long per byte it hashes before
// the watchdog calls it stalled.
const MIN_HASH_BYTES_PER_MS = 20 * 1024

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
  const links = new Set(
    lines.filter((line) => line.startsWith('sfd-link ')).map((line) => Number(line.slice(9)))
  )
  const text = lines
    .filter((line) => line.startsWith('sfd-o '))
    .map((line) => line.slice('sfd-o '.length))
    .join('\n')
  let position = 0
  return paths.map((path, index): RemoteDigest => {
    const digest = nextDigest(text, position, path)
    if (digest === undefined) return 'unreadable'
    position = digest.end
    return links.has(index + 1) ? 'unreadable' : { sha256: digest.hex }
  })
}

/** The digest line of `path` at `position` in openssl's output, and where the next one starts. */
function nextDigest(
  text: string,
  position: number,
  path: string
): { hex: string; end: number } | undefined {
  for (const label of ['SHA2-256', 'SHA256']) {
    // The path as hashBatchScript handed it to openssl.
    const head = `${label}(${commandPath(path)})= `
    if (!text.startsWith(head, position)) continue
    const hex = text.slice(position + head.length, position + head.length + 64)
    if (!/^[0-9a-f]{64}$/.test(hex)) return undefined
    return { hex, end: position + head.length + 64 + 1 }
  }
  return undefined
}
