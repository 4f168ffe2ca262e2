// Keys made by the real ssh-keygen and openssl, for tests that check we read what they write.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '../harness/temp.js'

const dir = tempDir('keys')
let counter = 0

export interface GeneratedKey {
  readonly privateKey: string
  readonly publicKey: string
  readonly path: string
}

export function sshKeygen(
  type: string,
  extra: readonly string[] = [],
  passphrase = ''
): GeneratedKey {
  counter += 1
  const path = join(dir, `key${counter}`)
  execFileSync('ssh-keygen', [
    '-q',
    '-t',
    type,
    '-N',
    passphrase,
    '-C',
    'test',
    '-f',
    path,
    ...extra
  ])
  return {
    privateKey: readFileSync(path, 'utf8'),
    publicKey: readFileSync(`${path}.pub`, 'utf8'),
    path
  }
}

/** What `ssh-keygen -lf` prints for a public key file: `bits SHA256:… comment (TYPE)`. */
export function keygenFingerprint(path: string, hash: 'sha256' | 'md5' = 'sha256'): string {
  const out = execFileSync('ssh-keygen', ['-E', hash, '-lf', `${path}.pub`]).toString()
  return out.split(' ')[1] ?? ''
}

/** `ssh-keygen -H` applied to a known_hosts text. */
export function hashKnownHosts(text: string): string {
  counter += 1
  const path = join(dir, `known${counter}`)
  execFileSync('sh', ['-c', `cat > '${path}'`], { input: text })
  execFileSync('ssh-keygen', ['-q', '-H', '-f', path], { stdio: 'ignore' })
  return readFileSync(path, 'utf8')
}

export function opensslPkcs8(algorithm: 'ed25519' | 'RSA' | 'EC', passphrase?: string): string {
  const args = ['genpkey', '-algorithm', algorithm]
  if (algorithm === 'EC') args.push('-pkeyopt', 'ec_paramgen_curve:P-256')
  if (algorithm === 'RSA') args.push('-pkeyopt', 'rsa_keygen_bits:2048')
  if (passphrase !== undefined) args.push('-aes256', '-pass', `pass:${passphrase}`)
  return execFileSync('openssl', args).toString()
}

export function blobOf(publicKeyLine: string): Buffer {
  return Buffer.from(publicKeyLine.trim().split(/\s+/)[1] ?? '', 'base64')
}
