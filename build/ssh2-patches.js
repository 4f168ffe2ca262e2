// Bundle-time patches to ssh2 1.17's JavaScript AES-GCM path, which the action always runs (its
// optional native addon cannot ship in dist/). ssh2 creates a cipher per SSH packet from the raw
// key Buffer, and Node re-imports the key each time; a KeyObject made once halves that cost
// (measured: 32 KiB packets, 1 GiB, 684-904 ms → 347-377 ms). Each patch must match exactly
// once, so an ssh2 upgrade that changes these lines fails the build instead of losing the patch.

const PATCHES = [
  {
    file: /node_modules[\\/]ssh2[\\/]lib[\\/]protocol[\\/]crypto\.js$/,
    replacements: [
      [
        '  createCipheriv, createDecipheriv, createHmac, randomFillSync, timingSafeEqual\n',
        '  createCipheriv, createDecipheriv, createHmac, randomFillSync, timingSafeEqual,\n  createSecretKey\n'
      ],
      [
        '    this._encKey = enc.cipherKey;\n',
        '    this._encKey = createSecretKey(enc.cipherKey);\n'
      ],
      [
        '    this._decipherKey = dec.decipherKey;\n',
        '    this._decipherKey = createSecretKey(dec.decipherKey);\n'
      ]
    ]
  }
]

export function ssh2Patches() {
  const applied = new Set()
  return {
    name: 'ssh2-patches',
    transform(code, id) {
      const patch = PATCHES.find((candidate) => candidate.file.test(id))
      if (patch === undefined) return null
      let result = code
      for (const [from, to] of patch.replacements) {
        const count = result.split(from).length - 1
        if (count !== 1)
          this.error(`ssh2 patch expected ${JSON.stringify(from)} once in ${id}, found ${count}`)
        result = result.replace(from, to)
      }
      applied.add(patch)
      return { code: result, map: null }
    },
    buildEnd(error) {
      if (error === undefined && applied.size !== PATCHES.length)
        this.error('ssh2 patches: a patched file was not part of the bundle')
    }
  }
}
