// Bundle-time patches to dependencies, for speed. Each patch must match the number of times
// given, so an upgrade that changes these lines fails the build instead of losing the patch.
//
// ssh2 1.17's JavaScript cipher path, which the action always runs (its optional native addon
// cannot ship in dist/):
// - ssh2 creates an AES-GCM cipher per SSH packet from the raw key Buffer, and Node re-imports
//   the key each time; a KeyObject made once halves that cost (figures in bench/README.md).
// - Each packet's random padding (4-19 bytes) was its own call into OpenSSL's RNG; it now comes
//   from a 64 KiB pool that the same CSPRNG refills.

const RANDOM_POOL = [
  'const RANDOM_POOL = Buffer.allocUnsafe(65536);',
  'let randomPoolPos = RANDOM_POOL.length;',
  'function randomPadding(buf, offset, len) {',
  '  if (randomPoolPos + len > RANDOM_POOL.length) {',
  '    randomFillSync(RANDOM_POOL);',
  '    randomPoolPos = 0;',
  '  }',
  '  RANDOM_POOL.copy(buf, offset, randomPoolPos, randomPoolPos + len);',
  '  randomPoolPos += len;',
  '}',
  ''
].join('\n')

// Small SFTP requests made in the same tick (thousands of renames, stats, opens) go out
// together in one channel packet instead of one SSH packet each: each packet costs a cipher
// set-up and a system call. Larger payloads (write data) flush what is waiting first, so the
// order of requests on the channel is kept.
const SFTP_COALESCE = [
  'const COALESCE_BELOW = 4096;',
  'const COALESCE_UPTO = 32768;',
  'function flushCoalesced(sftp, batch) {',
  '  if (batch !== undefined && sftp._coalesced !== batch) return;',
  '  const pending = sftp._coalesced;',
  '  if (pending === undefined) return;',
  '  sftp._coalesced = undefined;',
  '  sendOrBufferNow(sftp, pending.parts.length === 1 ? pending.parts[0] : Buffer.concat(pending.parts, pending.length));',
  '}',
  'function sendOrBuffer(sftp, payload) {',
  '  if (payload.length < COALESCE_BELOW) {',
  '    let pending = sftp._coalesced;',
  '    if (pending === undefined) {',
  '      pending = sftp._coalesced = { parts: [], length: 0 };',
  '      process.nextTick(flushCoalesced, sftp, pending);',
  '    }',
  '    pending.parts.push(payload);',
  '    pending.length += payload.length;',
  '    if (pending.length >= COALESCE_UPTO)',
  '      flushCoalesced(sftp);',
  '    return true;',
  '  }',
  '  flushCoalesced(sftp);',
  '  return sendOrBufferNow(sftp, payload);',
  '}',
  ''
].join('\n')

const PATCHES = [
  {
    file: /node_modules[\\/]ssh2[\\/]lib[\\/]protocol[\\/]crypto\.js$/,
    replacements: [
      [
        "  createCipheriv, createDecipheriv, createHmac, randomFillSync, timingSafeEqual\n} = require('crypto');\n",
        "  createCipheriv, createDecipheriv, createHmac, randomFillSync, timingSafeEqual,\n  createSecretKey\n} = require('crypto');\n" +
          RANDOM_POOL,
        1
      ],
      [
        '    this._encKey = enc.cipherKey;\n',
        '    this._encKey = createSecretKey(enc.cipherKey);\n',
        1
      ],
      [
        '    this._decipherKey = dec.decipherKey;\n',
        '    this._decipherKey = createSecretKey(dec.decipherKey);\n',
        1
      ],
      [
        '    randomFillSync(packet, 5 + payloadLen, padLen);\n',
        '    randomPadding(packet, 5 + payloadLen, padLen);\n',
        7
      ],
      // AES-GCM: one plaintext packet buffer per cipher, reused, instead of a new one per packet.
      // encrypt() runs right after allocPacket() in the same tick (packets queued during a key
      // exchange are allocated elsewhere), and what it hands the socket is its own copy.
      [
        '      padLen += 16;\n    pktLen += padLen;\n\n    const packet = Buffer.allocUnsafe(pktLen);\n',
        '      padLen += 16;\n    pktLen += padLen;\n\n' +
          '    if (this._scratch === undefined || this._scratch.length < pktLen)\n' +
          '      this._scratch = Buffer.allocUnsafe(Math.max(pktLen, 36 * 1024));\n' +
          '    const packet = this._scratch.subarray(0, pktLen);\n',
        1
      ],
      [
        '    const lenData = packet.slice(0, 4);\n',
        '    const lenData = Buffer.from(packet.subarray(0, 4));\n',
        1
      ]
    ]
  },
  {
    // SFTP writes: the request header is sent, then the caller's data as it is, instead of both
    // copied into one new buffer. The caller keeps the data unchanged until the write's callback
    // (the server's answer, which comes after the data has left). Payloads queue in order.
    file: /node_modules[\\/]ssh2[\\/]lib[\\/]protocol[\\/]SFTP\.js$/,
    replacements: [
      [
        '    const out = Buffer.allocUnsafe(4 + 1 + 4 + 4 + handleLen + 8 + 4 + len);\n\n    writeUInt32BE(out, out.length - 4, 0);\n    out[4] = REQUEST.WRITE;\n',
        '    const out = Buffer.allocUnsafe(4 + 1 + 4 + 4 + handleLen + 8 + 4);\n\n    writeUInt32BE(out, out.length - 4 + len, 0);\n    out[4] = REQUEST.WRITE;\n',
        1
      ],
      [
        '    writeUInt32BE(out, len, p += 8);\n    bufferCopy(buf, out, off, off + len, p += 4);\n',
        '    writeUInt32BE(out, len, p += 8);\n',
        1
      ],
      [
        "    const isSent = sendOrBuffer(this, out);\n    if (this._debug) {\n      const how = (isSent ? 'Sent' : 'Buffered');\n      this._debug(`SFTP: Outbound: ${how} WRITE (id:${reqid})`);\n",
        "    const isSent = sendOrBuffer(this, out) & sendOrBuffer(this, bufferSlice(buf, off, off + len));\n    if (this._debug) {\n      const how = (isSent ? 'Sent' : 'Buffered');\n      this._debug(`SFTP: Outbound: ${how} WRITE (id:${reqid})`);\n",
        1
      ],
      [
        'function sendOrBuffer(sftp, payload) {\n  const ret = tryWritePayload(sftp, payload);\n',
        SFTP_COALESCE +
          'function sendOrBufferNow(sftp, payload) {\n  if (sftp._buffer.length > 0) {\n    sftp._buffer.push(payload);\n    return false;\n  }\n  const ret = tryWritePayload(sftp, payload);\n',
        1
      ]
    ]
  },
  {
    // ssh2's HTTP(S) agents are never used here, but loading them imports node:http, whose ESM
    // facade reads its lazy WebSocket getters and so loads Node's bundled undici, which every
    // start-up would pay for. The two exports go.
    file: /node_modules[\\/]ssh2[\\/]lib[\\/]index\.js$/,
    replacements: [
      [
        "const {\n  SSHTTPAgent: HTTPAgent,\n  SSHTTPSAgent: HTTPSAgent,\n} = require('./http-agents.js');\n",
        '',
        1
      ],
      ['  HTTPAgent,\n  HTTPSAgent,\n', '', 1]
    ]
  },
  {
    // @actions/glob walks the tree with one promise-based fs call per entry, each a trip through
    // the thread pool: 0.49 s for 10,000 files here, against 0.03 s for the same calls made
    // synchronously. Same calls, same errors, same order; only the waiting goes.
    file: /node_modules[\\/]@actions[\\/]glob[\\/]lib[\\/]internal-globber\.js$/,
    replacements: [
      ['yield __await(fs.promises.lstat(searchPath));', 'fs.lstatSync(searchPath);', 1],
      ['(yield __await(fs.promises.readdir(item.path)))', 'fs.readdirSync(item.path)', 1],
      ['yield fs.promises.stat(item.path);', 'fs.statSync(item.path);', 1],
      ['yield fs.promises.lstat(item.path);', 'fs.lstatSync(item.path);', 1],
      ['yield fs.promises.realpath(item.path);', 'fs.realpathSync.native(item.path);', 1]
    ]
  }
]

export function bundlePatches() {
  const applied = new Set()
  return {
    name: 'bundle-patches',
    transform(code, id) {
      const patch = PATCHES.find((candidate) => candidate.file.test(id))
      if (patch === undefined) return null
      let result = code
      for (const [from, to, times] of patch.replacements) {
        const count = result.split(from).length - 1
        if (count !== times)
          this.error(
            `bundle patch expected ${JSON.stringify(from)} ${times} time(s) in ${id}, found ${count}`
          )
        result = result.split(from).join(to)
      }
      applied.add(patch)
      return { code: result, map: null }
    },
    buildEnd(error) {
      if (error === undefined && applied.size !== PATCHES.length)
        this.error('bundle patches: a patched file was not part of the bundle')
    }
  }
}
