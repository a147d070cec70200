'use strict';

// Replays a Dockerfile's build without Docker: each stage gets a scratch directory standing in
// for its filesystem, and its COPY, WORKDIR, ENV and RUN steps are carried out there for real,
// image paths mapped into that directory. Only what a base image provides is taken from this
// machine instead: the system packages (apt-get installs of tools this PATH has) and, for a
// stage that copies the whole build context, the context itself (this checkout, already
// installed and built by `npm ci`, is used in place rather than copied). Anything else the
// replay does not understand fails it, so that the Dockerfile cannot drift away from what is
// tested.

const fs = require('node:fs');
const path = require('node:path');
const { promisify } = require('node:util');
const execFile = promisify(require('node:child_process').execFile);

// Debian packages a base image installs, and the command on this machine that stands in.
const STAND_INS = { nodejs: 'node', npm: 'npm' };

// Instructions as [keyword, argument text], comments dropped and continued lines joined.
function parse(text) {
  const steps = [];
  for (const line of text.replace(/\\\n/g, ' ').split('\n')) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) continue;
    const [, keyword, rest] = trimmed.match(/^(\S+)\s*(.*)$/);
    steps.push([keyword.toUpperCase(), rest]);
  }
  return steps;
}

function onPath(tool, env) {
  return (env.PATH || '').split(path.delimiter).some((d) => d && fs.existsSync(path.join(d, tool)));
}

// A stage's filesystem: image paths resolve into `root`, except those under a bound directory.
class Stage {
  constructor(name, root) {
    this.name = name;
    this.root = root;
    this.binds = [];
    this.workdir = '/';
    this.env = {};
    this.user = null;
    this.entrypoint = [];
    this.cmd = [];
  }

  image(p) {
    return path.posix.resolve(this.workdir, p);
  }

  host(p) {
    const abs = this.image(p);
    for (const [imagePath, hostPath] of this.binds) {
      if (abs === imagePath || abs.startsWith(`${imagePath}/`)) return path.join(hostPath, path.posix.relative(imagePath, abs));
    }
    const mapped = path.join(this.root, abs);
    if (!mapped.startsWith(`${this.root}${path.sep}`) && mapped !== this.root) throw new Error(`${p} leaves the stage's directory`);
    return mapped;
  }

  // The stage's ENV, paths in it mapped, over `base`.
  environment(base) {
    const env = { ...base };
    for (const [k, v] of Object.entries(this.env)) env[k] = v.startsWith('/') ? this.host(v) : v;
    if (this.user) env.HOME = this.host(`/home/${this.user}`);
    return env;
  }
}

// Carries out the Dockerfile at `file` with `context` as its build context, under `scratch`.
// `env`: the environment its commands run with. Resolves to the stages by name (and index).
async function replay(file, { context, scratch, env, log = () => {} }) {
  const stages = [];
  let stage = null;
  const stageNamed = (name) => stages.find((s) => s.name === name) || stages[Number(name)];

  for (const [keyword, args] of parse(fs.readFileSync(file, 'utf8'))) {
    if (keyword === 'FROM') {
      const [, as] = args.match(/^\S+(?:\s+AS\s+(\S+))?$/i) || [];
      stage = new Stage(as || String(stages.length), path.join(scratch, String(stages.length)));
      // What every base image has.
      fs.mkdirSync(path.join(stage.root, 'tmp'), { recursive: true });
      stages.push(stage);
      continue;
    }
    if (!stage) throw new Error(`${keyword} before FROM`);
    switch (keyword) {
      case 'WORKDIR':
        stage.workdir = stage.image(args);
        fs.mkdirSync(stage.host('.'), { recursive: true });
        break;
      case 'ENV': {
        const m = args.match(/^([A-Za-z_][A-Za-z0-9_]*)=(\S+)$/);
        if (!m) throw new Error(`ENV ${args}: only one NAME=value is understood`);
        stage.env[m[1]] = m[2];
        break;
      }
      case 'USER':
        // The commands run as this machine's user; the name only places HOME.
        stage.user = args;
        break;
      case 'COPY':
        copy(stage, args, context, stageNamed);
        break;
      case 'RUN':
        for (const command of args.split('&&').map((c) => c.trim())) await run(stage, command, context, env, log);
        break;
      case 'ENTRYPOINT':
      case 'CMD':
        stage[keyword.toLowerCase()] = JSON.parse(args);
        break;
      case 'EXPOSE':
        break;
      default:
        throw new Error(`the replay does not understand ${keyword}`);
    }
  }
  return stages;
}

function copy(stage, args, context, stageNamed) {
  const words = args.split(/\s+/);
  const from = words[0].startsWith('--from=') ? stageNamed(words.shift().slice('--from='.length)) : null;
  if (words.length !== 2 || words[0].startsWith('--')) throw new Error(`COPY ${args}: one source and one destination are understood`);
  const [src, dest] = words;
  if (!from && path.posix.normalize(src) === '.') {
    // The whole context: bound in place (this checkout, as `npm ci` left it).
    stage.binds.push([stage.image(dest), context]);
    return;
  }
  const source = from ? from.host(src) : path.join(context, src);
  if (!source.startsWith(from ? from.root : context)) throw new Error(`COPY ${src} leaves its source`);
  // Symlinks as they are (node_modules/.bin), as Docker copies them.
  fs.cpSync(source, stage.host(dest), { recursive: true, verbatimSymlinks: true });
}

async function run(stage, command, context, env, log) {
  if (/["'`$;|<>(){}]/.test(command)) throw new Error(`RUN ${command}: only plain commands joined by && are understood`);
  const [tool, ...args] = command.split(/\s+/);
  if (tool === 'apt-get') {
    // The base image's system packages: this machine must have what they provide.
    if (args[0] !== 'install') return;
    for (const pkg of args.slice(1).filter((a) => !a.startsWith('-'))) {
      if (!STAND_INS[pkg]) throw new Error(`no stand-in for the system package ${pkg}`);
      if (!onPath(STAND_INS[pkg], env)) throw new Error(`${STAND_INS[pkg]} (for ${pkg}) is not on PATH`);
    }
    return;
  }
  const cwd = stage.host('.');
  if (tool === 'npm' && args[0] === 'ci' && cwd === context) {
    // The context in place is what `npm ci` made of it.
    if (!fs.existsSync(path.join(context, 'node_modules'))) throw new Error('the build context has no node_modules: run npm ci');
    return;
  }
  const mapped = args.map((a) => (a.startsWith('/') ? stage.host(a) : a));
  log(`RUN ${command}`);
  // Exactly the stage's environment: nothing of this process's (e.g. an enclosing npm's) leaks in.
  await execFile('sh', ['-c', [tool, ...mapped].join(' ')], { cwd, env: stage.environment(env), timeout: 300000, maxBuffer: 16 << 20 })
    .catch((e) => { throw new Error(`RUN ${command} failed (${e.code}):\n${e.stdout}${e.stderr}`); });
}

module.exports = { parse, replay };
