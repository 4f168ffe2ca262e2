// ssh2's key parser, for the inputs: which key formats it can use, or why it cannot.

import { parseKey, type ParsedKey } from './ssh2.js'

export interface ParsedKeyInfo {
  readonly type: string
  readonly isPrivate: boolean
}

/** ssh2's key parser: the key formats it can use, or the reason it cannot. */
export function parseSshKey(data: string, passphrase: string | undefined): ParsedKeyInfo | Error {
  const parsed = parseKey(data, passphrase)
  if (parsed instanceof Error) return parsed
  const key = Array.isArray(parsed) ? (parsed[0] as ParsedKey | undefined) : parsed
  if (key === undefined) return new Error('no key found')
  return { type: key.type, isPrivate: key.isPrivateKey() }
}
