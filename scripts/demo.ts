// npm run demo: starts three loopback OpenSSH hosts, deploys example/site to them through the
// bundled action (node dist/index.js, as a runner runs it), prints what the runner would show,
// the step outputs and the job summary, then checks every file on every host by SHA-256.

import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { runAction, treeDigest } from '../test/harness/run-action.js'
import { startFleet } from '../test/harness/sshd.js'
import { removeTempDirs } from '../test/harness/temp.js'

const root = resolve(import.meta.dirname, '..')
const site = join(root, 'example/site')

const fleet = await startFleet({ count: 3 })
let failed = false
try {
  console.log(
    `Started ${fleet.hosts.length} OpenSSH hosts: ${fleet.hosts.map((h) => h.entry).join(', ')}\n`
  )
  const run = await runAction(
    {
      host: fleet.hosts.map((h) => `${fleet.user}@${h.entry}`).join('\n'),
      key: fleet.keys.ed25519,
      'known-hosts': fleet.knownHosts,
      'working-directory': 'example/site',
      source: '**',
      target: 'www'
    },
    { cwd: root }
  )

  console.log('── action log ──')
  for (const line of run.stdout.split('\n')) {
    if (line.startsWith('::add-mask::') || line.startsWith('::debug::')) continue
    console.log(line)
  }
  if (run.stderr.trim() !== '') console.log(run.stderr)
  console.log(`── exit code ${run.code} ──\n`)

  console.log('── outputs ──')
  for (const [name, value] of Object.entries(run.outputs)) console.log(`${name}=${value}`)
  console.log('\n── job summary ──')
  console.log(run.summary)

  const local = treeDigest(site)
  console.log('── what landed (sha256 compared with example/site) ──')
  for (const host of fleet.hosts) {
    const remote = treeDigest(host.path('www'))
    const same =
      JSON.stringify(remote, Object.keys(remote).sort()) ===
      JSON.stringify(local, Object.keys(local).sort())
    console.log(
      `${host.entry}: ${Object.keys(remote).length} files at ${host.path('www')} — ${same ? 'identical' : 'DIFFERENT'}`
    )
    if (!same) failed = true
  }
  const index = readFileSync(fleet.host(0).path('www/index.html'))
  console.log(`\nindex.html sha256 ${createHash('sha256').update(index).digest('hex')}`)
  if (run.code !== 0) failed = true
} finally {
  await fleet.stop()
  removeTempDirs()
}
process.exitCode = failed ? 1 : 0
