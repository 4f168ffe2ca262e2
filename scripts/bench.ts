// npm run bench: this action against OpenSSH scp, sftp and rsync on the same loopback sshd
// hosts, alternately, several rounds; medians, the ratio ours/theirs from the same run, wall
// time, client CPU time and peak RSS (GNU time). Writes bench/results/latest.{json,md} and the
// README's Performance table.
//
//   npm run bench                   all workloads, 3 rounds
//   npm run bench -- --rounds 5
//   npm run bench -- --quick        smaller data sets (a few seconds per workload)
//   npm run bench -- --only big,small,redeploy,releases,medium,fanout,rss
//   npm run bench -- --client-cores 4   the clients on 4 cores, the hosts on the rest (taskset);
//                                       the default on a machine of 8 cores or more

import { execFileSync, spawn, spawnSync } from 'node:child_process'
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statfsSync,
  statSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os'
import { join, resolve } from 'node:path'
import { DIST } from '../test/harness/run-action.js'
import { startFleet, type TestHost } from '../test/harness/sshd.js'
import { removeTempDirs, tempDir } from '../test/harness/temp.js'

const root = resolve(import.meta.dirname, '..')
const argv = process.argv.slice(2)
const option = (name: string): string | undefined => {
  const index = argv.indexOf(`--${name}`)
  return index === -1 ? undefined : argv[index + 1]
}
const quick = argv.includes('--quick')
// On a machine with cores to spare, the clients (ours, scp, rsync) get a runner's share of them
// and the hosts the rest, so that the hosts do not compete with the client for cores.
const clientCores = Number(
  option('client-cores') ?? (availableParallelism() >= 8 ? '4' : String(availableParallelism()))
)
const pinned =
  clientCores < availableParallelism() && spawnSync('taskset', ['--version']).status === 0
const rounds = Number(option('rounds') ?? (quick ? 2 : 3))
const only = option('only')?.split(',')
const wanted = (name: string): boolean => only === undefined || only.includes(name)

/** The releases workload: files changed before each redeploy, releases each deploy root keeps. */
const CHANGED_FILES = 10
const KEEP_RELEASES = 3

const MiB = 1024 * 1024
const GiB = 1024 * MiB
const sizes = quick
  ? { big: 128 * MiB, smallCount: 2000, medium: 20, fan: 64 * MiB, rss: 512 * MiB }
  : { big: GiB, smallCount: 10_000, medium: 100, fan: 256 * MiB, rss: 4 * GiB }

/** Each workload's name in the results (and the tables). */
const label = {
  big: `1 file, ${sizes.big / MiB} MiB`,
  small: `${sizes.smallCount} files of 4 KiB`,
  redeploy: `redeploy of ${sizes.smallCount} unchanged files`,
  releases: `redeploy of ${sizes.smallCount} files with ${CHANGED_FILES} changed`,
  medium: `${sizes.medium} files of 10 MiB`,
  fan: (count: number): string => `fan-out ${sizes.fan / MiB} MiB to ${count} host(s)`,
  rss: `peak RSS: ${sizes.rss / GiB} GiB to 8 hosts`
}

// ── tools ────────────────────────────────────────────────────────────────────────────────────
execFileSync('bash', [join(root, 'scripts/ensure-openssh.sh')], { stdio: 'inherit' })
if (!existsSync('/usr/bin/time')) {
  console.error('Installing GNU time ...')
  execFileSync(
    'sh',
    ['-c', 'apt-get install -y time || (apt-get update && apt-get install -y time)'],
    {
      stdio: 'inherit'
    }
  )
}
/** The first line a tool prints of its version (ssh -V writes to stderr). */
const version = (command: string, args: string[]): string => {
  const run = spawnSync(command, args, { encoding: 'utf8' })
  return `${run.stdout}${run.stderr}`.trim().split('\n')[0]?.trim() ?? ''
}

// ── data sets ────────────────────────────────────────────────────────────────────────────────
const data = join(tmpdir(), `sfd-bench-data${quick ? '-quick' : ''}`)
function randomFile(path: string, size: number): void {
  if (existsSync(path) && statSync(path).size === size) return
  mkdirSync(join(path, '..'), { recursive: true })
  execFileSync('sh', ['-c', `head -c ${size} /dev/urandom > '${path}'`])
}
/** File `i` of a small tree: 100 files to a directory. */
const smallFile = (dir: string, i: number): string =>
  join(dir, `d${String(Math.floor(i / 100)).padStart(3, '0')}`, `f${i}.txt`)
function smallTree(dir: string, count: number): void {
  if (existsSync(join(dir, '.complete'))) return
  rmSync(dir, { recursive: true, force: true })
  for (let i = 0; i < count; i += 1) {
    if (i % 100 === 0) mkdirSync(join(smallFile(dir, i), '..'), { recursive: true })
    writeFileSync(smallFile(dir, i), Buffer.alloc(4096, i % 251))
  }
  writeFileSync(join(dir, '.complete'), '')
}
/** New contents, the same size, for CHANGED_FILES files spread over a small tree. */
function changeSmallFiles(dir: string, count: number, edit: number): void {
  for (let k = 0; k < CHANGED_FILES; k += 1)
    writeFileSync(
      smallFile(dir, Math.floor((k * count) / CHANGED_FILES)),
      Buffer.alloc(4096, `edit ${edit}\n`)
    )
}
// The peak-RSS run lands a copy on each of 8 hosts, whose homes are all on the file system of
// the temporary directory: check for the room before anything runs, not after the rest.
if (wanted('rss')) {
  const { bavail, bsize } = statfsSync(tmpdir())
  const free = bavail * bsize
  const rssFile = join(data, 'rss/rss.bin')
  const haveFile = existsSync(rssFile) && statSync(rssFile).size === sizes.rss
  const needed = 8 * sizes.rss + (haveFile ? 0 : sizes.rss) + GiB
  if (free < needed) {
    const gib = (bytes: number): string => `${(bytes / GiB).toFixed(1)} GiB`
    console.error(
      `npm run bench: the peak-RSS workload (${label.rss}) needs ${gib(needed)} free in ` +
        `${tmpdir()}, which has ${gib(free)}. Free some space, or leave that workload out: ` +
        '--only big,small,redeploy,releases,medium,fanout'
    )
    process.exit(1)
  }
}
console.error(`Preparing data sets in ${data} ...`)
randomFile(join(data, 'big/big.bin'), sizes.big)
smallTree(join(data, 'small'), sizes.smallCount)
for (let i = 0; i < sizes.medium; i += 1) randomFile(join(data, `medium/m${i}.bin`), 10 * MiB)
randomFile(join(data, 'fan/fan.bin'), sizes.fan)
if (wanted('rss')) randomFile(join(data, 'rss/rss.bin'), sizes.rss)
rmSync(join(data, 'small/.complete'), { force: true })
if (wanted('releases')) {
  // A copy of the small tree, whose files the workload changes: afresh each run.
  rmSync(join(data, 'releases'), { recursive: true, force: true })
  cpSync(join(data, 'small'), join(data, 'releases'), { recursive: true })
}
execFileSync('sh', ['-c', `cat '${data}'/big/* '${data}'/fan/* > /dev/null`]) // warm the page cache

/** The bench's own small files (known_hosts, the action's outputs, GNU time's reports). */
const scratch = tempDir('bench')

// ── measuring ────────────────────────────────────────────────────────────────────────────────
interface Sample {
  wall: number
  cpu: number
  rssMiB: number
}

/** Runs a command under GNU time: wall seconds, client CPU seconds, peak RSS. */
function timed(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env
): Promise<Sample> {
  const out = join(scratch, `time-${Math.random().toString(36).slice(2)}`)
  return new Promise((done, fail) => {
    const started = process.hrtime.bigint()
    const timing = ['/usr/bin/time', '-f', '%e %U %S %M', '-o', out, command, ...args]
    const [program = '', ...rest] = pinned
      ? ['taskset', '-c', `0-${clientCores - 1}`, ...timing]
      : timing
    const child = spawn(program, rest, {
      env,
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stderr = ''
    let stdout = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.on('close', (code) => {
      const wall = Number(process.hrtime.bigint() - started) / 1e9
      if (code !== 0) {
        fail(
          new Error(
            `${command} ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)} ${stdout.slice(-2000)}`
          )
        )
        return
      }
      const [, user, sys, rss] =
        readFileSync(out, 'utf8').trim().split('\n').pop()?.split(' ').map(Number) ?? []
      rmSync(out, { force: true })
      done({ wall, cpu: (user ?? 0) + (sys ?? 0), rssMiB: (rss ?? 0) / 1024 })
    })
  })
}

async function parallel(jobs: (() => Promise<Sample>)[]): Promise<Sample> {
  const started = process.hrtime.bigint()
  const samples = await Promise.all(jobs.map((job) => job()))
  return {
    wall: Number(process.hrtime.bigint() - started) / 1e9,
    cpu: samples.reduce((sum, sample) => sum + sample.cpu, 0),
    rssMiB: samples.reduce((sum, sample) => sum + sample.rssMiB, 0)
  }
}

const knownHostsFile = join(scratch, 'known_hosts')
const outputFile = join(scratch, 'output')
const summaryFile = join(scratch, 'summary')
const sftpBatchFile = join(scratch, 'sftp-batch')
const sshOptions = (): string[] => [
  '-i',
  fleet.keys.ed25519Path,
  '-o',
  `UserKnownHostsFile=${knownHostsFile}`,
  '-o',
  'StrictHostKeyChecking=yes',
  '-o',
  'LogLevel=ERROR',
  '-o',
  'BatchMode=yes',
  // The cipher ssh2 chooses here (AES-GCM with AES-NI): the comparison is of implementations.
  '-c',
  'aes128-gcm@openssh.com'
]

function ours(
  hosts: TestHost[],
  workingDirectory: string,
  target: string,
  extra: Record<string, string> = {}
) {
  const inputs: Record<string, string> = {
    host: hosts.map((host) => host.entry).join('\n'),
    username: fleet.user,
    key: fleet.keys.ed25519,
    'known-hosts': fleet.knownHosts,
    'working-directory': join(data, workingDirectory),
    source: '**',
    target,
    ...extra
  }
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    GITHUB_WORKSPACE: root,
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile
  }
  writeFileSync(env.GITHUB_OUTPUT ?? '', '')
  writeFileSync(env.GITHUB_STEP_SUMMARY ?? '', '')
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value
  return () => timed(process.execPath, [DIST], env)
}

const login = (host: TestHost): string => `${fleet.user}@${host.address}`
const remote = (host: TestHost, path: string): string => `${login(host)}:${path}`
/** OpenSSH's ssh to `host`, with the bench's options: rsync's remote shell, or a command's. */
const ssh = (host: TestHost): string[] => ['ssh', '-p', String(host.port), ...sshOptions()]
/** Words quoted for sh. */
const shellWords = (words: string[]): string =>
  words.map((word) => `'${word.replaceAll("'", `'\\''`)}'`).join(' ')
const scp =
  (host: TestHost, source: string, target: string, recursive = false) =>
  () =>
    timed('scp', [
      ...sshOptions(),
      '-P',
      String(host.port),
      ...(recursive ? ['-r'] : []),
      source,
      remote(host, target)
    ])
const rsyncArgs = (host: TestHost, source: string, target: string, extra: string[] = []) => [
  '-a',
  ...extra,
  '-e',
  ssh(host).join(' '),
  source,
  remote(host, target)
]
const rsync = (host: TestHost, source: string, target: string) => () =>
  timed('rsync', rsyncArgs(host, source, target))
const sftp = (host: TestHost, commands: string[]) => () => {
  writeFileSync(sftpBatchFile, `${commands.join('\n')}\n`)
  return timed('sftp', [...sshOptions(), '-P', String(host.port), '-b', sftpBatchFile, login(host)])
}

/** Runs `run(n)` with n = 0, 1, 2, … on successive calls: each deploy a new release. */
function numbered(run: (n: number) => () => Promise<Sample>): () => Promise<Sample> {
  let n = -1
  return () => run((n += 1))()
}
/** Release `n`'s directory in a deploy root. */
const releaseDir = (n: number): string => `releases/bench-${n}`

/** This action in releases mode, the deploy root `root`: release bench-0, bench-1, … */
const oursReleases = (host: TestHost, workingDirectory: string, root: string) =>
  numbered((n) =>
    ours([host], workingDirectory, root, {
      releases: 'true',
      'release-name': `bench-${n}`,
      'keep-releases': String(KEEP_RELEASES)
    })
  )

/**
 * A Capistrano-style rsync deploy into the deploy root `root`, as one timed command: `rsync -a
 * --link-dest` from the previous release into a new one, then over ssh a new `current` link
 * renamed over the old one and, as this action's `keep-releases` does, the removal of the
 * release that falls out. `releases/` must be there.
 */
const rsyncReleases = (host: TestHost, source: string, root: string) =>
  numbered((n) => () => {
    const linkDest = n > 0 ? [`--link-dest=../bench-${n - 1}`] : []
    const copy = rsyncArgs(host, source, `${root}/${releaseDir(n)}/`, linkDest)
    const switchCurrent = [
      `ln -s ${releaseDir(n)} ${root}/current.tmp`,
      `mv -T ${root}/current.tmp ${root}/current`,
      ...(n >= KEEP_RELEASES ? [`rm -rf ${root}/${releaseDir(n - KEEP_RELEASES)}`] : [])
    ].join(' && ')
    return timed('sh', [
      '-c',
      `${shellWords(['rsync', ...copy])} && ${shellWords([...ssh(host), login(host), switchCurrent])}`
    ])
  })

interface Result {
  workload: string
  tool: string
  samples: Sample[]
  median: Sample
}
const results: Result[] = []

function median(samples: Sample[]): Sample {
  const pick = (key: keyof Sample): number => {
    const sorted = samples.map((sample) => sample[key]).sort((a, b) => a - b)
    return sorted[Math.floor((sorted.length - 1) / 2)] ?? 0
  }
  return { wall: pick('wall'), cpu: pick('cpu'), rssMiB: pick('rssMiB') }
}

/** Runs the tools of one workload alternately, `rounds` times; `reset` clears targets first. */
async function workload(
  name: string,
  tools: Record<string, () => Promise<Sample>>,
  reset: () => void,
  times = rounds
): Promise<void> {
  const collected: Record<string, Sample[]> = {}
  for (let round = 0; round < times; round += 1) {
    for (const [tool, run] of Object.entries(tools)) {
      reset()
      const sample = await run()
      ;(collected[tool] ??= []).push(sample)
      console.error(
        `${name} round ${round + 1} ${tool}: ${sample.wall.toFixed(2)} s, cpu ${sample.cpu.toFixed(2)} s, rss ${sample.rssMiB.toFixed(0)} MiB`
      )
    }
  }
  for (const [tool, samples] of Object.entries(collected))
    results.push({ workload: name, tool, samples, median: median(samples) })
}

// Targets live on tmpfs where the machine has one: on this kind of virtual machine the disk
// alone takes 1-9 s (varying 3x between runs) to create 10,000 files, which would drown the
// differences between the tools. The peak-RSS run (4 GiB to 8 hosts) stays on disk.
// Each host's login directory gets `t`, a link to its own directory there; targets are
// relative, so one `target` input (and one scp path) means each host's own place.
const TMPFS = '/dev/shm'
const onTmpfs = existsSync(TMPFS) && statSync(TMPFS).isDirectory()
function linkTmpfs(hosts: TestHost[]): void {
  if (!onTmpfs) return
  for (const host of hosts) {
    const dir = join(TMPFS, `sfd-bench-${process.pid}`, `host${host.index}`)
    mkdirSync(dir, { recursive: true })
    symlinkSync(dir, host.path('t'))
  }
}
/** A workload's target directory, relative to each host's login directory. */
const out = (name: string): string => (onTmpfs ? `t/${name}` : name)

function clear(hosts: TestHost[], ...paths: string[]): () => void {
  return () => {
    for (const host of hosts)
      for (const path of paths) rmSync(host.path(path), { recursive: true, force: true })
  }
}

// ── workloads ────────────────────────────────────────────────────────────────────────────────
const fleet = await startFleet({ count: 8 })
linkTmpfs(fleet.hosts)
if (pinned)
  // The hosts' servers on the other cores; what they start (logins, SFTP servers) inherits it.
  for (const host of fleet.hosts)
    execFileSync('taskset', [
      '-a',
      '-p',
      '-c',
      `${clientCores}-${availableParallelism() - 1}`,
      String(host.pid)
    ])
writeFileSync(knownHostsFile, `${fleet.knownHosts}\n`)
const one = fleet.host(0)
try {
  if (wanted('big')) {
    await workload(
      label.big,
      {
        ours: ours([one], 'big', out('out-big')),
        'ours (verify: none)': ours([one], 'big', out('out-big'), { verify: 'none' }),
        scp: scp(one, join(data, 'big/big.bin'), `${out('out-big')}/big.bin`),
        sftp: sftp(one, [
          `-mkdir ${out('out-big')}`,
          `put ${join(data, 'big/big.bin')} ${out('out-big')}/big.bin`
        ]),
        rsync: rsync(one, join(data, 'big/'), `${out('out-big')}/`)
      },
      () => {
        clear([one], out('out-big'))()
        mkdirSync(one.path(out('out-big')), { recursive: true })
      }
    )
  }

  if (wanted('small')) {
    await workload(
      label.small,
      {
        ours: ours([one], 'small', out('out-small')),
        'scp -r': scp(one, join(data, 'small'), out('out-small'), true),
        'sftp put -r': sftp(one, [`put -r ${join(data, 'small')} ${out('out-small')}`]),
        rsync: rsync(one, join(data, 'small/'), `${out('out-small')}/`)
      },
      clear([one], out('out-small'))
    )
  }

  if (wanted('redeploy')) {
    // Both start from a complete copy made by themselves.
    clear([one], out('out-redeploy-ours'), out('out-redeploy-rsync'))()
    await ours([one], 'small', out('out-redeploy-ours'))()
    await rsync(one, join(data, 'small/'), `${out('out-redeploy-rsync')}/`)()
    await workload(
      label.redeploy,
      {
        ours: ours([one], 'small', out('out-redeploy-ours')),
        rsync: rsync(one, join(data, 'small/'), `${out('out-redeploy-rsync')}/`)
      },
      () => undefined
    )
  }

  if (wanted('releases')) {
    // Each tool starts from a first deploy of its own; before every run the same CHANGED_FILES
    // files get new contents, so every run differs from that tool's previous one in those.
    const roots = {
      releases: out('out-releases'),
      inPlace: out('out-releases-in-place'),
      rsync: out('out-releases-rsync')
    }
    clear([one], ...Object.values(roots))()
    mkdirSync(one.path(`${roots.rsync}/releases`), { recursive: true })
    const tools = {
      ours: oursReleases(one, 'releases', roots.releases),
      'ours (releases: false)': ours([one], 'releases', roots.inPlace),
      'rsync --link-dest': rsyncReleases(one, join(data, 'releases/'), roots.rsync)
    }
    for (const setup of Object.values(tools)) await setup()
    let edit = 0
    await workload(label.releases, tools, () =>
      changeSmallFiles(join(data, 'releases'), sizes.smallCount, (edit += 1))
    )
  }

  if (wanted('medium')) {
    await workload(
      label.medium,
      {
        ours: ours([one], 'medium', out('out-medium')),
        'scp -r': scp(one, join(data, 'medium'), out('out-medium'), true),
        rsync: rsync(one, join(data, 'medium/'), `${out('out-medium')}/`)
      },
      clear([one], out('out-medium'))
    )
  }

  if (wanted('fanout')) {
    for (const count of [1, 4, 8]) {
      const hosts = fleet.hosts.slice(0, count)
      await workload(
        label.fan(count),
        {
          ours: ours(hosts, 'fan', out('out-fan')),
          // What verification costs here: each host hashes its copy, in a login of its own.
          'ours (verify: none)': ours(hosts, 'fan', out('out-fan'), { verify: 'none' }),
          // Every host on one thread, as before the fan-out had threads.
          ...(count > 1
            ? { 'ours (threads: 1)': ours(hosts, 'fan', out('out-fan'), { threads: '1' }) }
            : {}),
          [`${count} × scp`]: () =>
            parallel(
              hosts.map((host) => scp(host, join(data, 'fan/fan.bin'), `${out('out-fan')}/fan.bin`))
            )
        },
        () => {
          clear(hosts, out('out-fan'))()
          for (const host of hosts) mkdirSync(host.path(out('out-fan')), { recursive: true })
        }
      )
    }
  }

  if (wanted('rss')) {
    await workload(
      label.rss,
      { ours: ours(fleet.hosts, 'rss', 'out-rss') },
      clear(fleet.hosts, 'out-rss'),
      1
    )
    clear(fleet.hosts, 'out-rss')()
  }
} finally {
  await fleet.stop()
  rmSync(join(TMPFS, `sfd-bench-${process.pid}`), { recursive: true, force: true })
  removeTempDirs()
}

// ── report ───────────────────────────────────────────────────────────────────────────────────
const machine = {
  cpu: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
  memoryGiB: Math.round(totalmem() / GiB),
  node: process.version,
  openssh: version('ssh', ['-V']),
  rsync: version('rsync', ['--version']),
  date: new Date().toISOString()
}

const byWorkload = new Map<string, Result[]>()
for (const result of results)
  byWorkload.set(result.workload, [...(byWorkload.get(result.workload) ?? []), result])

const lines = [
  `Loopback, one \`sshd\` per host, all on one machine (${machine.cpu}, ${machine.memoryGiB} GiB${pinned ? `; the clients on ${clientCores} cores, the hosts on the other ${availableParallelism() - clientCores}` : ''}); ${machine.openssh}; ${machine.rsync}; Node ${machine.node}; OpenSSH tools with \`-c aes128-gcm@openssh.com\`, the cipher ssh2 picks; targets ${onTmpfs ? 'on tmpfs (the peak-RSS run on disk)' : 'on disk'}. Medians of ${rounds} alternating rounds${quick ? ' (quick data sets)' : ''}, ${machine.date.slice(0, 10)}. CPU is the client side only (user + system of the process and its children), RSS its peak; cores used is that CPU ÷ wall. Ratio: our time ÷ theirs (below 1 is faster than them).`,
  '',
  '| workload | tool | wall (s) | ours ÷ theirs | client CPU (s) | cores used | peak RSS (MiB) |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: |'
]
for (const [workloadName, entries] of byWorkload) {
  const mine = entries.find((entry) => entry.tool === 'ours')
  for (const entry of entries) {
    const ratio =
      mine === undefined || entry === mine ? '' : (mine.median.wall / entry.median.wall).toFixed(2)
    lines.push(
      `| ${workloadName} | ${entry.tool} | ${entry.median.wall.toFixed(2)} | ${ratio} | ${entry.median.cpu.toFixed(2)} | ${(entry.median.cpu / entry.median.wall).toFixed(2)} | ${entry.median.rssMiB.toFixed(0)} |`
    )
  }
}

// The targets of the performance issue, each against what this run measured.
const measured = (workloadName: string, tool: string): Sample | undefined =>
  byWorkload.get(workloadName)?.find((entry) => entry.tool === tool)?.median
const ratio = (
  workloadName: string,
  theirs: string,
  key: 'wall' | 'cpu' = 'wall'
): number | undefined => {
  const mine = measured(workloadName, 'ours')
  const other = measured(workloadName, theirs)
  return mine === undefined || other === undefined ? undefined : mine[key] / other[key]
}
/** A target: its name, this run's figure, the most it may be (none: the figure alone). */
type Target = [string, number | undefined, number | undefined]
const targets: Target[] = [
  [`${label.big}, verified: time ÷ unverified \`scp\``, ratio(label.big, 'scp'), 1],
  [`${label.small}: time ÷ \`scp -r\``, ratio(label.small, 'scp -r'), 1 / 6],
  [`${label.small}: time ÷ \`rsync\``, ratio(label.small, 'rsync'), 1],
  [`${label.redeploy}: time ÷ \`rsync\``, ratio(label.redeploy, 'rsync'), 1],
  [
    `${label.releases}, \`releases: true\`: time ÷ in place (\`releases: false\`)`,
    ratio(label.releases, 'ours (releases: false)'),
    undefined
  ],
  [
    `${label.releases}, \`releases: true\`: time ÷ \`rsync --link-dest\` and switch`,
    ratio(label.releases, 'rsync --link-dest'),
    undefined
  ],
  ...[4, 8].flatMap((count): Target[] => [
    [
      `${label.fan(count)}: time ÷ ${count} × \`scp\``,
      ratio(label.fan(count), `${count} × scp`),
      // With the clients on 4 cores, 8 hosts are 4 threads against 8 processes.
      count === 8 ? 1.3 : 1
    ],
    [
      // The same bytes per host: the CPU ratio is the ratio per host-GiB.
      `${label.fan(count)}: client CPU per host-GiB ÷ OpenSSH's`,
      ratio(label.fan(count), `${count} × scp`, 'cpu'),
      1.2
    ]
  ]),
  [`${label.rss}: peak RSS (MiB)`, measured(label.rss, 'ours')?.rssMiB, 150]
]
lines.push(
  '',
  `The targets of the performance issue${quick ? ' (set for the full data sets)' : ''}, against this run:`,
  '',
  '| target | this run | at most | met |',
  '| --- | ---: | ---: | --- |',
  ...targets
    .filter(([, value]) => value !== undefined)
    .map(([name, value = 0, limit]) =>
      limit === undefined
        ? `| ${name} | ${value.toFixed(2)} | — | — |`
        : `| ${name} | ${value.toFixed(limit > 10 ? 0 : 2)} | ${limit.toFixed(limit > 10 ? 0 : limit < 1 ? 3 : 2)} | ${value <= limit ? 'yes' : 'no'} |`
    )
)
const markdown = `${lines.join('\n')}\n`
mkdirSync(join(root, 'bench/results'), { recursive: true })
writeFileSync(
  join(root, 'bench/results/latest.json'),
  `${JSON.stringify({ machine, rounds, quick, results }, null, 2)}\n`
)
writeFileSync(join(root, 'bench/results/latest.md'), markdown)
if (!quick && only === undefined) {
  const readmePath = join(root, 'README.md')
  const readme = readFileSync(readmePath, 'utf8')
  const start = '<!-- bench:start -->'
  const end = '<!-- bench:end -->'
  if (readme.includes(start) && readme.includes(end))
    writeFileSync(
      readmePath,
      readme.slice(0, readme.indexOf(start) + start.length) +
        '\n' +
        markdown +
        readme.slice(readme.indexOf(end))
    )
}
console.log(markdown)
