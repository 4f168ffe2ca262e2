import { describe, expect, test } from 'vitest'
import { InputError } from '../../src/errors.js'
import { loadPrivateKey } from '../../src/config/private-key.js'
import { parseSshKey } from '../../src/ssh/keys.js'
import { opensslPkcs8, sshKeygen } from '../helpers/keys.js'

function inputErrorOf(run: () => unknown): InputError {
  try {
    run()
  } catch (error) {
    if (error instanceof InputError) return error
    throw error
  }
  throw new Error('expected an InputError')
}

describe('the key input', () => {
  test.each([
    ['OpenSSH ed25519', () => sshKeygen('ed25519').privateKey, undefined, 'ssh-ed25519'],
    [
      'OpenSSH ecdsa, encrypted',
      () => sshKeygen('ecdsa', [], 'pw').privateKey,
      'pw',
      'ecdsa-sha2-nistp256'
    ],
    [
      'PEM RSA (PKCS#1), encrypted',
      () => sshKeygen('rsa', ['-b', '2048', '-m', 'PEM'], 'pw-pw-pw').privateKey,
      'pw-pw-pw',
      'ssh-rsa'
    ],
    ['PKCS#8 ed25519', () => opensslPkcs8('ed25519'), undefined, 'ssh-ed25519'],
    ['PKCS#8 RSA', () => opensslPkcs8('RSA'), undefined, 'ssh-rsa'],
    ['PKCS#8 EC', () => opensslPkcs8('EC'), undefined, 'ecdsa-sha2-nistp256'],
    ['PKCS#8 RSA, encrypted', () => opensslPkcs8('RSA', 'secret'), 'secret', 'ssh-rsa']
  ])(
    'reads %s, also with CRLF line ends and a byte order mark',
    (_name, make, passphrase, type) => {
      const text = make()
      // CRLF and a UTF-8 BOM: as a Windows checkout (core.autocrlf), a secret pasted on Windows
      // or a file saved by Notepad gives the key.
      for (const given of [text, `\uFEFF${text.replace(/\n/g, '\r\n')}`]) {
        const loaded = loadPrivateKey(given, passphrase)
        expect(loaded.type).toBe(type)
        expect(loaded.key).not.toMatch(/\r|\uFEFF/)
        // What is handed to ssh2 is a key ssh2 itself can use.
        const parsed = parseSshKey(loaded.key, loaded.passphrase)
        expect(parsed).toMatchObject({ type, isPrivate: true })
      }
    }
  )

  test('CRLF line ends, a missing final newline and surrounding blanks are tolerated', () => {
    const key = sshKeygen('ed25519').privateKey
    const mangled = `\n  ${key.trimEnd().replace(/\n/g, '\r\n')}  `
    expect(loadPrivateKey(mangled, undefined).type).toBe('ssh-ed25519')
  })

  test('a key pasted with literal \\n sequences is read', () => {
    const key = sshKeygen('ed25519').privateKey
    expect(loadPrivateKey(key.trimEnd().replace(/\n/g, '\\n'), undefined).type).toBe('ssh-ed25519')
  })

  test('a public key says so', () => {
    const error = inputErrorOf(() => loadPrivateKey(sshKeygen('ed25519').publicKey, undefined))
    expect(error.input).toBe('key')
    expect(error.message).toMatch(/public key/)
  })

  test('an encrypted key without passphrase names passphrase', () => {
    const error = inputErrorOf(() =>
      loadPrivateKey(
        sshKeygen('rsa', ['-b', '2048', '-m', 'PEM'], 'pw-pw-pw').privateKey,
        undefined
      )
    )
    expect(error.input).toBe('passphrase')
    expect(error.message).toMatch(/encrypted/)
  })

  test.each([
    ['OpenSSH', () => sshKeygen('ed25519', [], 'right').privateKey],
    ['PEM', () => sshKeygen('rsa', ['-b', '2048', '-m', 'PEM'], 'right').privateKey],
    ['PKCS#8', () => opensslPkcs8('RSA', 'right')]
  ])('a wrong passphrase for a %s key names passphrase', (_name, make) => {
    const error = inputErrorOf(() => loadPrivateKey(make(), 'wrong'))
    expect(error.input).toBe('passphrase')
    expect(error.message).toMatch(/does not decrypt/)
  })

  test.each([
    'not a key',
    '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----'
  ])('text that is no key names key: %j', (text) => {
    const error = inputErrorOf(() => loadPrivateKey(text, undefined))
    expect(error.input).toBe('key')
    expect(error.message).toMatch(/not a private key/)
  })
})
