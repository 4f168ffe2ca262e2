// Local names that cannot be deployed as they are. On Linux a file name is bytes; SFTP paths and
// our remote commands are UTF-8, and Node reads a name that is not UTF-8 with U+FFFD in place of
// each bad byte, so the name it hands on is one that does not exist. Such a name is refused with
// an error that shows it, its bad bytes escaped as `\xNN`.

import { readdirSync } from 'node:fs'
import { InputError } from '../errors.js'

const REPLACEMENT = '\uFFFD'

/** Whether `bytes` are valid UTF-8 (decoding and encoding again gives them back). */
export function isUtf8(bytes: Buffer): boolean {
  return Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes)
}

/** A name for messages: valid UTF-8 as text, every other byte as `\xNN`. */
export function escapeName(bytes: Buffer): string {
  const decoder = new TextDecoder('utf-8', { fatal: true })
  let out = ''
  for (let at = 0; at < bytes.length;) {
    let taken = 0
    // The longest valid sequence (1 to 4 bytes) starting here.
    for (let length = Math.min(4, bytes.length - at); length >= 1 && taken === 0; length -= 1) {
      try {
        const text = decoder.decode(bytes.subarray(at, at + length))
        const point = text.codePointAt(0)
        if (point !== undefined && String.fromCodePoint(point) === text) {
          out += text
          taken = length
        }
      } catch {
        // not a whole character
      }
    }
    if (taken === 0) {
      out += `\\x${(bytes[at] as number).toString(16).padStart(2, '0')}`
      taken = 1
    }
    at += taken
  }
  return out
}

/** The error for a local entry whose name (raw bytes, in `directory`) is not UTF-8. */
export function unrepresentableName(directory: string, name: Buffer): InputError {
  return new InputError(
    'source',
    `'${directory}/${escapeName(name)}' has a name that is not valid UTF-8: remote paths are UTF-8, so it cannot be deployed under that name; rename it, or remove it from working-directory`
  )
}

/**
 * For a failure of the walk or the glob that names a path with U+FFFD in it: the entry whose
 * name is not UTF-8, looked up in its directory as bytes. Undefined where that is not the cause.
 */
export function explainUnrepresentableName(message: string): InputError | undefined {
  const quoted = /'([^']*\uFFFD[^']*)'/.exec(message)?.[1]
  if (quoted === undefined) return undefined
  // The first segment with a replacement character is the one that does not exist as read.
  const segments = quoted.split('/')
  const index = segments.findIndex((segment) => segment.includes(REPLACEMENT))
  const directory = segments.slice(0, index).join('/') || '/'
  const mangled = segments[index] ?? ''
  let names: Buffer[]
  try {
    names = readdirSync(directory, { encoding: 'buffer' })
  } catch {
    return undefined
  }
  const bad = names.find((name) => !isUtf8(name) && name.toString('utf8') === mangled)
  return bad === undefined ? undefined : unrepresentableName(directory, bad)
}
