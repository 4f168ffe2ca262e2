// Bundles the action's three entry points as ESM for node24, their shared code in dist/chunks/:
// dist/index.js (the runner runs it), dist/cli.js (`ssh-fanout-deploy`, package.json `bin`) and
// dist/worker.js (a thread of the fan-out).
import commonjs from '@rollup/plugin-commonjs'
import json from '@rollup/plugin-json'
import { nodeResolve } from '@rollup/plugin-node-resolve'
import typescript from '@rollup/plugin-typescript'
import { bundlePatches } from './build/bundle-patches.js'

// ssh2 is CommonJS and finds files beside itself through __dirname and require(); an ESM
// bundle has neither, so both are defined from import.meta.url.
const banner = [
  "import { createRequire as __sfdCreateRequire } from 'node:module';",
  "import { fileURLToPath as __sfdFileURLToPath } from 'node:url';",
  "import { dirname as __sfdDirname } from 'node:path';",
  'const __filename = __sfdFileURLToPath(import.meta.url);',
  'const __dirname = __sfdDirname(__filename);',
  'const require = __sfdCreateRequire(import.meta.url);'
].join('\n')

/** @type {import('rollup').RollupOptions} */
const config = {
  input: { index: 'src/index.ts', cli: 'src/cli.ts', worker: 'src/worker.ts' },
  output: {
    dir: 'dist',
    format: 'es',
    entryFileNames: '[name].js',
    chunkFileNames: 'chunks/[name].js',
    banner: (chunk) =>
      chunk.name === 'cli' && chunk.isEntry ? `#!/usr/bin/env node\n${banner}` : banner,
    sourcemap: false
  },
  // A runner has no node_modules beside dist/: ssh2's optional native addons (cpu-features,
  // sshcrypto.node) are left out, and ssh2 falls back to its JavaScript code as it is built to.
  plugins: [
    bundlePatches(),
    typescript({
      tsconfig: './tsconfig.build.json',
      module: 'esnext',
      moduleResolution: 'bundler'
    }),
    nodeResolve({ preferBuiltins: true, exportConditions: ['node'] }),
    commonjs({ ignore: ['cpu-features'], ignoreTryCatch: true }),
    json({ preferConst: true })
  ],
  // @actions/core imports @actions/http-client (and with it undici) for getIDToken alone, which
  // this action never calls. Marked free of side effects, they are left out when nothing uses
  // them (if something ever does, they are bundled as before): the bundle went from 2.0 to 1.1 MB,
  // a run that stops at its input checks from 0.11-0.14 s to 0.08-0.10 s and from 83 to 68 MiB.
  treeshake: {
    moduleSideEffects: (id) =>
      !/[\\/]node_modules[\\/](@actions[\\/]http-client|undici)[\\/]/.test(id)
  },
  onwarn(warning, warn) {
    // ssh2 and @actions/* contain circular requires that are harmless at run time.
    // Their TypeScript helpers test `this` at the top of a module, which ESM leaves undefined.
    if (warning.code === 'CIRCULAR_DEPENDENCY' || warning.code === 'THIS_IS_UNDEFINED') return
    warn(warning)
  }
}

export default config
