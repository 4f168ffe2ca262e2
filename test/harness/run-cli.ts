// Runs the bundled command line as a user does: `node dist/cli.js ARGS` in a directory, with a
// HOME of the test's choosing; or under `script`, on a pseudo-terminal.

import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { shellQuote } from '../../src/remote/shell-quote.js'

export const CLI = resolve(import.meta.dirname, '../../dist/cli.js')

export interface CliRun {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

export interface CliOptions {
  readonly cwd: string
  /** The whole environment but PATH. */
  readonly env?: Record<string, string>
  /** Run on a pseudo-terminal of this size (stdout and stderr are then one stream). */
  readonly tty?: { readonly columns: number; readonly rows: number }
  readonly timeoutMs?: number
}

export async function runCli(args: readonly string[], options: CliOptions): Promise<CliRun> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', ...options.env }
  const command = [process.execPath, CLI, ...args].map((word) => shellQuote(word)).join(' ')
  const child =
    options.tty === undefined
      ? spawn(process.execPath, [CLI, ...args], {
          cwd: options.cwd,
          env,
          stdio: ['ignore', 'pipe', 'pipe']
        })
      : spawn(
          'script',
          [
            '--quiet',
            '--return',
            '--command',
            `stty cols ${options.tty.columns} rows ${options.tty.rows}; exec ${command}`,
            '/dev/null'
          ],
          { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] }
        )
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (data: Buffer) => (stdout += data.toString()))
  child.stderr.on('data', (data: Buffer) => (stderr += data.toString()))
  const killer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000)
  const code = await new Promise<number | null>((done) => child.on('close', done))
  clearTimeout(killer)
  return { code, stdout, stderr }
}
