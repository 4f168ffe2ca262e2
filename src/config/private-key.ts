// The private key input, checked before any connection: OpenSSH format or PEM (PKCS#1, SEC1,
// PKCS#8, encrypted or not), ed25519, ecdsa or rsa. CRLF line ends and a missing final newline
// (both common in pasted secrets) are tolerated. PKCS#8, which ssh2 cannot read, is converted
// here in memory. The key never touches disk.

import { createPrivateKey, randomBytes, type KeyObject } from 'node:crypto'
import { InputError } from '../errors.js'
import { parseSshKey } from '../ssh/keys.js'

export interface LoadedKey {
  /** Key text ssh2 can read. */
  readonly key: string
  /** Passphrase to give ssh2 with it (undefined when `key` is not encrypted). */
  readonly passphrase: string | undefined
  readonly type: string
  /** Text derived from the secret that is printed nowhere but must be masked anyway. */
  readonly derivedSecrets: readonly string[]
}

export function normalizeKeyText(text: string): string {
  // A secret pasted with literal "\n" sequences instead of line breaks.
  let value =
    text.includes('-----BEGIN') && !text.includes('\n') ? text.replace(/\\n/g, '\n') : text
  value = value.replace(/\r\n?/g, '\n').trim()
  return `${value}\n`
}

const PUBLIC_KEY_LINE = /^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp\d+|sk-)\S* AAAA/

function sshString(data: Buffer | string): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data) : data
  const length = Buffer.alloc(4)
  length.writeUInt32BE(body.length)
  return Buffer.concat([length, body])
}

/** An unencrypted `openssh-key-v1` ed25519 key (PROTOCOL.key), which ssh2 reads. */
function ed25519ToOpenSsh(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' })
  if (jwk.d === undefined || jwk.x === undefined) throw new Error('not an ed25519 private key')
  const seed = Buffer.from(jwk.d, 'base64url')
  const pub = Buffer.from(jwk.x, 'base64url')
  const publicBlob = Buffer.concat([sshString('ssh-ed25519'), sshString(pub)])
  const check = randomBytes(4)
  let secret = Buffer.concat([
    check,
    check,
    sshString('ssh-ed25519'),
    sshString(pub),
    sshString(Buffer.concat([seed, pub])),
    sshString('')
  ])
  const padding: number[] = []
  for (let i = 1; (secret.length + padding.length) % 8 !== 0; i += 1) padding.push(i)
  secret = Buffer.concat([secret, Buffer.from(padding)])
  const count = Buffer.alloc(4)
  count.writeUInt32BE(1)
  const blob = Buffer.concat([
    Buffer.from('openssh-key-v1\0'),
    sshString('none'),
    sshString('none'),
    sshString(''),
    count,
    sshString(publicBlob),
    sshString(secret)
  ])
  const body = blob.toString('base64').replace(/(.{70})/g, '$1\n')
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${body.trimEnd()}\n-----END OPENSSH PRIVATE KEY-----\n`
}

function convertPkcs8(text: string, passphrase: string | undefined): string {
  const encrypted = text.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----')
  if (encrypted && passphrase === undefined)
    throw new InputError('passphrase', 'the key is encrypted (PKCS#8): set passphrase')
  let key: KeyObject
  try {
    key = createPrivateKey(
      passphrase === undefined
        ? { key: text, format: 'pem' }
        : { key: text, format: 'pem', passphrase }
    )
  } catch (error) {
    if (encrypted)
      throw new InputError('passphrase', 'does not decrypt the key (wrong passphrase?)', {
        cause: error
      })
    throw new InputError('key', 'the PKCS#8 PEM key could not be read', { cause: error })
  }
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return key.export({ type: 'pkcs1', format: 'pem' }).toString()
    case 'ec':
      return key.export({ type: 'sec1', format: 'pem' }).toString()
    case 'ed25519':
      return ed25519ToOpenSsh(key)
    default:
      throw new InputError(
        'key',
        `is a ${key.asymmetricKeyType ?? 'unknown'} key; use an ed25519, ecdsa or rsa key`
      )
  }
}

export function loadPrivateKey(text: string, passphrase: string | undefined): LoadedKey {
  const normalized = normalizeKeyText(text)
  const firstLine = normalized.split('\n', 1)[0] ?? ''

  if (PUBLIC_KEY_LINE.test(firstLine) || firstLine.startsWith('---- BEGIN SSH2 PUBLIC KEY'))
    throw new InputError(
      'key',
      'this is a public key; give the private key (the key file without .pub, starting with -----BEGIN)'
    )

  let key = normalized
  let keyPassphrase = passphrase
  const derivedSecrets: string[] = [normalized]
  if (/-----BEGIN (ENCRYPTED )?PRIVATE KEY-----/.test(normalized)) {
    key = convertPkcs8(normalized, passphrase)
    keyPassphrase = undefined
    derivedSecrets.push(key)
  }

  const parsed = parseSshKey(key, keyPassphrase)
  if (parsed instanceof Error) {
    const message = parsed.message
    if (/no passphrase given/i.test(message))
      throw new InputError('passphrase', 'the key is encrypted: set passphrase')
    if (/bad passphrase|integrity check failed|decrypt/i.test(message))
      throw new InputError('passphrase', 'does not decrypt the key (wrong passphrase?)')
    throw new InputError(
      'key',
      `is not a private key this action can read (${message}); expected an OpenSSH or PEM private key (ed25519, ecdsa or rsa)`
    )
  }
  if (!parsed.isPrivate)
    throw new InputError('key', 'this is a public key; give the private key (without .pub)')
  return { key, passphrase: keyPassphrase, type: parsed.type, derivedSecrets }
}
