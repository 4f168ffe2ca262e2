// The command line's entry point: `ssh-fanout-deploy` runs `node dist/cli.js`.
import './ssh/heap.js'
import { runCommandLine } from './cli/main.js'

process.exitCode = await runCommandLine(
  process.argv.slice(2),
  undefined,
  undefined,
  new URL('./worker.js', import.meta.url)
)
