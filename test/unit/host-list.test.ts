import { describe, expect, test } from 'vitest'
import { HostListError, parseHostList } from '../../src/config/host-list.js'

const defaults = { port: 22, user: 'deploy' }

describe('the host input', () => {
  test('entries separated by newlines and commas, blanks ignored, in input order', () => {
    const hosts = parseHostList(
      'web1.example.com\n\n  alice@web2:2222 , [2001:db8::1]:2200,\nbob@[::1]\n',
      defaults
    )
    expect(hosts.map((host) => host.label)).toEqual([
      'deploy@web1.example.com:22',
      'alice@web2:2222',
      'deploy@[2001:db8::1]:2200',
      'bob@[::1]:22'
    ])
    expect(hosts[2]).toMatchObject({ host: '2001:db8::1', port: 2200, user: 'deploy' })
  })

  test('the port input applies to entries that name none', () => {
    const hosts = parseHostList('a, b:23', { port: 2022, user: 'u' })
    expect(hosts.map((host) => host.port)).toEqual([2022, 23])
  })

  test('an IPv6 address without brackets has no port', () => {
    expect(parseHostList('fe80::1', defaults)[0]).toMatchObject({ host: 'fe80::1', port: 22 })
  })

  test('the last @ separates the user', () => {
    expect(parseHostList('ci@corp@host', defaults)[0]).toMatchObject({
      user: 'ci@corp',
      host: 'host'
    })
  })

  const bad: [string, string, RegExp][] = [
    ['', 'host', /names no host/],
    [' , \n ', 'host', /names no host/],
    ['a.example, deploy@a.example:22', 'host', /duplicates/],
    ['host:0', 'host', /invalid port/],
    ['host:70000', 'host', /invalid port/],
    ['host:ssh', 'host', /invalid port/],
    ['[::1', 'host', /without '\]'/],
    ['[::1]x', 'host', /invalid port/],
    ['@host', 'host', /empty user/],
    ['ho st', 'host', /not a valid host/],
    ['a/b', 'host', /not a valid host/]
  ]
  test.each(bad)('%j is refused, naming %s', (text, input, message) => {
    let caught: unknown
    try {
      parseHostList(text, defaults)
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(HostListError)
    expect((caught as HostListError).input).toBe(input)
    expect((caught as HostListError).message).toMatch(message)
  })

  test('an entry without a user, and no username input, names username', () => {
    expect(() => parseHostList('web1', { port: 22, user: undefined })).toThrow(
      expect.objectContaining({ input: 'username' })
    )
  })
})
