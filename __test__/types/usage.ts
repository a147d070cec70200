// Compile-only: how pm2's TypeScript users call the module. Checked by
// `tsc -p __test__/types` (see __test__/types.test.js); never executed.

import pm2 from 'pm2';
import * as pm2ns from 'pm2';
import pm2req = require('pm2');
import {
  StartOptions,
  ProcessDescription,
  Proc,
  ProcList,
  Pm2Env,
  Monit,
  Command,
  Platform,
  ProcessStatus,
  ReloadOptions,
  ErrCallback,
  ErrProcCallback,
  ErrProcDescsCallback,
  ErrResultCallback,
  ErrBusCallback,
  Bus,
} from 'pm2';

// ---------------------------------------------------------------------------
// type assertion helpers

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
function assertType<T extends true>(): T | void {}
function use(..._values: unknown[]): void {}

// ---------------------------------------------------------------------------
// the three import styles see the same API

assertType<Equal<typeof pm2, typeof pm2req>>();
assertType<Equal<typeof pm2ns.connect, typeof pm2.connect>>();
assertType<Equal<pm2ns.StartOptions, StartOptions>>();
assertType<Equal<pm2.ProcessDescription, ProcessDescription>>();

// ---------------------------------------------------------------------------
// callback style (returns void)

const startOptions: StartOptions = {
  name: 'api',
  script: 'app.js',
  args: ['--port', '3000'],
  cwd: './app',
  exec_mode: 'cluster',
  instances: 'max',
  max_memory_restart: '150M',
  env: { NODE_ENV: 'development', PORT: 3000, DEBUG: false },
  env_production: { NODE_ENV: 'production' },
  env_staging: { NODE_ENV: 'staging' },
  cron_restart: '0 0 * * *',
  out_file: 'out.log',
  error_file: 'err.log',
  log_file: true,
  pid_file: 'app.pid',
  treekill: false,
  uid: 'www-data',
  gid: 33,
  watch: ['src'],
  ignore_watch: 'node_modules',
  watch_delay: 500,
  watch_options: { usePolling: true, interval: 100, followSymlinks: false },
  kill_timeout: 3000,
  kill_retry_time: 100,
  append_env_to_name: true,
  filter_env: ['SECRET'],
  namespace: 'backend',
  autostart: true,
  autorestart: true,
  stop_exit_codes: [0, 3],
  exp_backoff_restart_delay: 100,
  restart_delay: 0,
  shutdown_with_message: true,
  instance_var: 'INSTANCE_ID',
  increment_var: 'PORT',
  time: true,
  log_type: 'json',
  log_date_format: 'YYYY-MM-DD HH:mm Z',
  disable_logs: false,
  merge_logs: true,
  max_size: '10M',
  retain: 5,
  force: true,
  min_uptime: '5s',
  max_restarts: 10,
  wait_ready: true,
  listen_timeout: 8000,
  interpreter: 'node',
  interpreter_args: '--harmony',
};

// `env: process.env`-like objects (values may be undefined) are accepted.
declare const hostEnv: { [key: string]: string | undefined };
const fromHostEnv: StartOptions = { script: 'x.js', env: hostEnv };

pm2.connect((err) => {
  if (err) {
    const message: string = err.message;
    use(message);
    return;
  }

  pm2.start(startOptions, (err, apps) => {
    assertType<Equal<typeof err, Error | null | undefined>>();
    assertType<Equal<typeof apps, ProcList>>();
    const asArray: Proc[] = apps;
    use(asArray, apps.length, apps.map((proc) => proc.pm_id));
    const firstStatus: ProcessStatus | undefined = apps[0].pm2_env?.status;
    use(firstStatus);
    pm2.disconnect();
  });
});

// pm2-original's callback annotations (err typed as Error) still compile
const originalStyleConnect: (err: Error) => void = () => {};
pm2.connect(originalStyleConnect);
pm2.connect(true, (err: Error) => use(err));
pm2.list((err: Error, list: ProcessDescription[]) => use(err, list));
pm2.start(startOptions, (err: Error, proc: Proc) => use(err, proc));
pm2.restart('api', (err?: Error) => use(err));
pm2.stop('api', (err: Error | null, procs: Proc[]) => use(err, procs));
function startAsPromise(options: StartOptions): Promise<Proc> {
  return new Promise((resolve, reject) => {
    pm2.start(options, (err, apps) => (err ? reject(err) : resolve(apps)));
  });
}
use(startAsPromise);

const v1: void = pm2.start('app.js', (err, procs) => use(err, procs));
const v2: void = pm2.start('app.js', { name: 'x', instances: 2 }, (err, procs) => use(err, procs));
const v3: void = pm2.start('app.js', 'ecosystem.config.js', (err, procs) => use(err, procs));
const v4: void = pm2.start('ecosystem.config.json', (err, procs) => use(err, procs));
use(v1, v2, v3, v4, fromHostEnv);

pm2.stop('api', (err, procs) => use(err, procs.length));
pm2.stop(0, (err, procs) => use(err, procs));
pm2.restart('all', (err, procs) => use(err, procs));
pm2.restart('api', { updateEnv: true }, (err, procs) => use(err, procs));
pm2.reload('api', (err, procs) => use(err, procs));
pm2.reload(1, { updateEnv: true }, (err, procs) => use(err, procs));
pm2.delete('api', (err, procs) => use(err, procs));
pm2.del(2, (err, procs) => use(err, procs));

pm2.list((err, list) => {
  if (err) throw err;
  for (const proc of list) {
    const monit: Monit | undefined = proc.monit;
    const env: Pm2Env | undefined = proc.pm2_env;
    const cpu: number | undefined = monit?.cpu;
    const restarts: number | undefined = env?.restart_time;
    const waiting: boolean = env?.status === 'waiting restart' || env?.status === 'waiting_restart';
    use(proc.name, proc.pid, proc.pm_id, cpu, restarts, waiting);
  }
});

pm2.describe('api', (err, descriptions) => {
  assertType<Equal<typeof descriptions, ProcessDescription[]>>();
  use(err);
});

pm2.killDaemon((err, result) => {
  assertType<Equal<typeof result.success, boolean>>();
  use(err);
});
pm2.kill((err, result) => use(err, result.success));

pm2.disconnect();
pm2.disconnect(() => {});
pm2.disconnect((err) => use(err));
pm2.close();
pm2.close((err) => use(err));
pm2.connect((err, meta) => use(err, meta.new_pm2_instance, meta.daemon_mode));
pm2.destroy((err) => use(err));

pm2.launchBus((err, bus) => {
  if (err) return;
  bus.on('log:out', (packet) => {
    const line: string = packet.data;
    const name: string = packet.process.name;
    use(line, name, packet.process.pm_id, packet.at);
  });
  bus.on('process:event', (packet) => use(packet.event, packet.manually, packet.process.status));
  bus.on('process:msg', (packet) => use(packet.data, packet.raw));
  bus.on('log:*', (type: string, packet: { data: string }) => use(type, packet.data));
  bus.off('log:out');
  bus.close();
});

pm2.dump((err, res) => use(err, res.success));
pm2.dump(true, (err, res) => use(err, res));
pm2.flush((err, res) => use(err, res));
pm2.flush('api', (err, res) => use(err, res));
pm2.flush(3, (err, res) => use(err, res));
pm2.reloadLogs((err, res) => use(err, res));
pm2.sendDataToProcessId(0, { type: 'process:msg', topic: true, data: { hello: 'world' } }, (err, res) => use(err, res));
pm2.sendDataToProcessId({ id: 0, type: 'process:msg', topic: 'greeting', data: {} }, (err, res) => use(err, res));
pm2.sendSignalToProcessName('SIGUSR2', 'api', (err, res) => use(err, res));
pm2.sendSignalToProcessId('SIGHUP', 0, (err, res) => use(err, res));
pm2.sendSignalToProcessId(15, 0, (err, res) => use(err, res));
pm2.sendLineToStdin(0, 'hello', (err, res) => use(err, res));
pm2.ping((err, res) => use(err, res));
pm2.getVersion((err, version) => {
  assertType<Equal<typeof version, string>>();
  use(err);
});
pm2.getProcessIdByName('api', (err, ids) => {
  assertType<Equal<typeof ids, number[]>>();
  use(err);
});
pm2.reset('api', (err, res) => use(err, res.success));
pm2.getPID((err, pids) => use(err, pids));
pm2.getPID('api', (err, pids) => {
  assertType<Equal<(typeof pids)[number], number>>();
  use(err);
});
pm2.scale('api', 4, (err, res) => use(err, res));
pm2.scale('api', '+2', (err, res) => use(err, res));
pm2.trigger(0, 'refresh', (err, res) => use(err, res));
pm2.trigger('api', 'refresh', { force: true }, (err, res) => use(err, res));
pm2.resurrect((err, res) => use(err, res));
pm2.clearDump((err) => use(err));
pm2.update((err, res) => use(err, res.success));
pm2.startup('systemd', (err, res) => use(err, res));
pm2.startup('ubuntu', { user: 'deploy', serviceName: 'pm2-deploy' }, (err, res) => use(err, res));
pm2.uninstallStartup('systemd', (err, res) => use(err, res));
pm2.uninstallStartup('launchd', { user: 'me' }, (err, res) => use(err, res));

// ---------------------------------------------------------------------------
// promise style

async function promiseStyle(): Promise<void> {
  const meta = await pm2.connect();
  const launched: boolean = meta.new_pm2_instance;
  await pm2.connect(false);
  use(launched, meta.pm2_home);

  const started = await pm2.start({ script: 'app.js', name: 'api' });
  assertType<Equal<typeof started, ProcList>>();
  const startedArray: Proc[] = started;
  use(startedArray);
  await pm2.start('app.js');
  await pm2.start('app.js', { instances: 2 });
  await pm2.start('app.js', 'ecosystem.config.js');

  const list: ProcessDescription[] = await pm2.list();
  const described = await pm2.describe(0);
  assertType<Equal<typeof described, ProcessDescription[]>>();
  const stopped: Proc[] = await pm2.stop('api');
  const restarted: Proc[] = await pm2.restart('api', { updateEnv: true });
  const reloaded: Proc[] = await pm2.reload('api');
  const deleted: Proc[] = await pm2.delete('api');
  const deleted2: Proc[] = await pm2.del('api');
  use(list, stopped, restarted, reloaded, deleted, deleted2);

  const bus: Bus = await pm2.launchBus();
  bus.close();

  const dumped = await pm2.dump();
  const forced = await pm2.dump(true);
  const killed = await pm2.killDaemon();
  const killed2 = await pm2.kill();
  assertType<Equal<typeof killed.success, boolean>>();
  use(dumped.success, forced.success, killed2.success);

  const version: string = await pm2.getVersion();
  const ids: number[] = await pm2.getProcessIdByName('api');
  const pids: number[] = await pm2.getPID();
  const pidsOfApi: number[] = await pm2.getPID('api');
  use(version, ids, pids, pidsOfApi);

  await pm2.flush();
  await pm2.flush('api');
  await pm2.reloadLogs();
  await pm2.sendDataToProcessId(0, { topic: true, data: 1 });
  await pm2.sendDataToProcessId({ id: 0, topic: true, data: 1 });
  await pm2.sendSignalToProcessName('SIGINT', 'api');
  await pm2.sendSignalToProcessId('SIGINT', 1);
  await pm2.sendLineToStdin(1, 'line');
  await pm2.ping();
  await pm2.reset('all');
  await pm2.scale('api', 2);
  await pm2.trigger('api', 'action');
  await pm2.trigger('api', 'action', { a: 1 });
  await pm2.resurrect();
  const cleared: void = await pm2.clearDump();
  await pm2.update();
  await pm2.startup('systemd');
  await pm2.startup('systemd', { user: 'root' });
  await pm2.uninstallStartup('systemd');
  use(cleared);

  await independent.destroy();

  const disconnected: Promise<void> = pm2.disconnect();
  const closed: Promise<void> = pm2.close();
  await Promise.all([disconnected, closed]);
}

// ---------------------------------------------------------------------------
// custom instances

const custom = new pm2.custom({
  cwd: './app',
  pm2_home: './pm2-home',
  daemon_mode: true,
});
const independent = new pm2ns.custom({ independent: true });
const defaults = new pm2req.custom();
const home: string = custom.pm2_home;
const daemonMode: boolean = custom.daemon_mode;
const cwd: string = custom.cwd;
const clientDaemonMode: boolean = custom.Client.daemon_mode;
assertType<Equal<typeof independent, pm2.API>>();
use(home, daemonMode, cwd, clientDaemonMode, defaults);

custom.connect((err) => {
  if (err) return;
  custom.list((err, list) => {
    use(err, list);
    custom.disconnect();
  });
});

function isApi(x: unknown): x is pm2.API {
  return x instanceof pm2.custom;
}

// the module itself has the same instance properties
const moduleHome: string = pm2.pm2_home;
use(moduleHome, isApi(custom), promiseStyle);

// ---------------------------------------------------------------------------
// exported types are usable on their own

const platform: Platform = 'systemd';
const status: ProcessStatus = 'one-launch-status';
const reloadOptions: ReloadOptions = { updateEnv: true };
const command: Command = { locked: false };
const errCallback: ErrCallback = (err) => use(err);
const procCallback: ErrProcCallback = (err, procs) => use(err, procs);
const descsCallback: ErrProcDescsCallback = (err, list) => use(err, list);
const resultCallback: ErrResultCallback = (err, result) => use(err, result);
const busCallback: ErrBusCallback = (err, bus) => use(err, bus);
pm2.restart('api', reloadOptions, procCallback);
pm2.list(descsCallback);
pm2.launchBus(busCallback);
pm2.disconnect(errCallback);
pm2.reloadLogs(resultCallback);
use(platform, status, command);
