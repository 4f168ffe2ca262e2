// A minimal tar writer (POSIX ustar, with pax extended headers for names ustar cannot hold),
// for sending many small files to a host in one stream instead of one SFTP exchange each. Pure:
// headers and padding only; the caller supplies the file contents.

const BLOCK = 512

function octal(value: number, width: number): string {
  // width - 1 digits, then NUL.
  return `${value.toString(8).padStart(width - 1, '0')}\0`
}

function writeString(block: Buffer, text: string, offset: number, width: number): void {
  // Every header field is ASCII (other names travel in a pax record).
  block.write(text, offset, width, 'latin1')
}

export type TarEntryType = 'file' | 'directory'

export interface TarEntry {
  /** POSIX path relative to the extraction directory; a directory without a trailing slash. */
  readonly path: string
  readonly type: TarEntryType
  readonly mode: number
  /** File size (0 for directories). */
  readonly size: number
  /** Seconds since the epoch. */
  readonly mtime: number
}

// The fields every header shares: uid and gid 0, the ustar magic and version, and the checksum
// field as spaces while the sum is taken.
const TEMPLATE = (() => {
  const block = Buffer.alloc(BLOCK)
  writeString(block, octal(0, 8), 108, 8) // uid
  writeString(block, octal(0, 8), 116, 8) // gid
  block.fill(0x20, 148, 156)
  writeString(block, 'ustar\0', 257, 6)
  writeString(block, '00', 263, 2)
  return block
})()

// The template's byte sum: the fields written per entry are zero in it, so an entry's checksum
// is this plus the bytes of its own fields (no loop over all 512 bytes).
const TEMPLATE_SUM = TEMPLATE.reduce((sum, byte) => sum + byte, 0)

function header(name: string, type: string, mode: number, size: number, mtime: number): Buffer {
  const block = Buffer.allocUnsafe(BLOCK)
  TEMPLATE.copy(block)
  writeString(block, name, 0, 100)
  writeString(block, octal(mode & 0o7777, 8), 100, 8)
  writeString(block, octal(size, 12), 124, 12)
  writeString(block, octal(Math.max(0, Math.floor(mtime)), 12), 136, 12)
  writeString(block, type, 156, 1)
  // Name, mode (0-108), size and mtime (124-148), type (156); uid and gid are the template's.
  let sum = TEMPLATE_SUM + (block[156] as number)
  for (let index = 0; index < 108; index += 1) sum += block[index] as number
  for (let index = 124; index < 148; index += 1) sum += block[index] as number
  writeString(block, `${sum.toString(8).padStart(6, '0')}\0 `, 148, 8)
  return block
}

/** A pax record: "<length> <key>=<value>\n", the length counting itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`
  let length = Buffer.byteLength(body) + 1
  while (String(length).length + Buffer.byteLength(body) !== length) length += 1
  return `${length}${body}`
}

/** Zero bytes that complete the last block of `size` bytes of content. */
export function paddingSize(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK
}

const USTAR_SAFE = /^[\x20-\x7e]*$/

/**
 * The header block(s) of one entry. Names longer than 100 bytes, or with bytes outside
 * printable ASCII, get a pax `path` record first (GNU tar, bsdtar and BusyBox read it).
 */
export function entryHeader(entry: TarEntry): Buffer {
  const name = entry.type === 'directory' ? `${entry.path}/` : entry.path
  const type = entry.type === 'directory' ? '5' : '0'
  const blocks: Buffer[] = []
  let shortName = name
  if (Buffer.byteLength(name) > 100 || !USTAR_SAFE.test(name)) {
    const records = Buffer.from(paxRecord('path', name), 'utf8')
    blocks.push(header('PaxHeader', 'x', 0o644, records.length, entry.mtime))
    blocks.push(records, Buffer.alloc(paddingSize(records.length)))
    // What readers without pax support would see instead: a short, harmless name.
    shortName = `sfd-pax-${blocks.length}`
  }
  const last = header(
    shortName,
    type,
    entry.mode,
    entry.type === 'file' ? entry.size : 0,
    entry.mtime
  )
  if (blocks.length === 0) return last
  blocks.push(last)
  return Buffer.concat(blocks)
}

/** Two zero blocks: the end of the archive. */
export function endOfArchive(): Buffer {
  return Buffer.alloc(BLOCK * 2)
}
