// The command line's entry point: `ssh-fanout-deploy` runs `node dist/cli.js`.
import './ssh/heap.js'
import { runCommandLine } from './cli/main.js'

// The bundle needs Node 24 (npm only warns about package.json's engines).
const major = Number(process.versions.node.split('.')[0])
if (major < 24) {
  process.stderr.write(
    `ssh-fanout-deploy: needs Node.js 24 or later; this is ${process.versions.node}\n`
  )
  process.exit(2)
}

process.exitCode = await runCommandLine(
  process.argv.slice(2),
  undefined,
  undefined,
  new URL('./worker.js', import.meta.url)
)
