// Compile-only: code written against pm2's own typings (types/index.d.ts of the pm2
// package), every declaration used the way its users write it, with the annotations they
// copy from those typings. It compiles against pm2's typings and must compile unchanged
// against this package's index.d.ts (see __test__/types.test.js).

import pm2 from 'pm2';
import * as pm2ns from 'pm2';
import { Proc, Command, ProcessDescription, StartOptions, ServeOptions, DockerOptions, InstallOptions } from 'pm2';

declare function log(...values: unknown[]): void;

// ---------------------------------------------------------------------------
// pm2's callback shapes, written out as its users annotate them

type ErrCallback = (err: Error) => void;
type ErrProcCallback = (err: Error, proc: Proc) => void;
type ErrProcDescCallback = (err: Error, processDescription: ProcessDescription) => void;
type ErrProcDescsCallback = (err: Error, processDescriptionList: ProcessDescription[]) => void;
type ErrResultCallback = (err: Error, result: any) => void;
type ErrBusCallback = (err: Error, bus: any) => void;

const onError: ErrCallback = (err) => { if (err) log(err.message); };
const onProc: ErrProcCallback = (err, proc) => log(err, proc.name, proc.pm_id, proc.status);
const onDesc: ErrProcDescCallback = (err, pd) => log(err, pd.name, pd.pid);
const onDescs: ErrProcDescsCallback = (err, list) => list.forEach((p) => log(err, p.pm_id));
const onResult: ErrResultCallback = (err, result) => log(err, result);
const onBus: ErrBusCallback = (err, bus) => {
  if (err) return;
  bus.on('process:msg', (packet: any) => log(packet.data));
  bus.on('log:out', (packet: any) => log(packet.process.name, packet.data));
  bus.on('process:event', (packet: any) => log(packet.event, packet.process.pm_id));
};

// ---------------------------------------------------------------------------
// connect / disconnect

pm2.connect(onError);
pm2.connect((err) => {
  if (err) throw err;
  pm2.disconnect();
});
pm2.connect(true, onError);
pm2.connect(false, (err: Error) => log(err));
pm2ns.connect(onError);

// ---------------------------------------------------------------------------
// start, each overload

const options: StartOptions = { script: 'app.js', name: 'api' };
pm2.start(options, onProc);
pm2.start({ script: 'app.js', name: 'api', instances: 2, exec_mode: 'cluster' }, (err, proc) => {
  if (err) return log(err.stack);
  log(proc.pm_id, proc.pm_exec_path);
});
pm2.start('ecosystem.config.js', onProc);
pm2.start('app.js', (err: Error, proc: Proc) => log(err, proc));
pm2.start('app.js', { name: 'api', watch: true }, onProc);
pm2.start('app.js', 'process.json', onProc);
pm2ns.start('app.js', onProc);

// ---------------------------------------------------------------------------
// process actions

pm2.stop('api', onProc);
pm2.stop(0, (err, proc) => log(err, proc));
pm2.restart('api', onProc);
pm2.restart(0, (err: Error, proc: Proc) => log(err, proc));
pm2.delete('api', onProc);
pm2.delete(0, (err, proc) => log(err, proc));
pm2ns.delete('all', onProc);
pm2.reload('api', onProc);
pm2.reload('all', { updateEnv: true }, onProc);
pm2.reload(0, {}, (err, proc) => log(err, proc));

pm2.killDaemon(onDesc);
pm2.killDaemon((err: Error, pd: ProcessDescription) => log(err, pd));

pm2.describe('api', onDescs);
pm2.describe(0, (err, list) => log(err, list[0].pm2_env));
pm2.list(onDescs);
pm2.list((err, list) => {
  for (const p of list) {
    const status = p.pm2_env && p.pm2_env.status;
    if (status === 'waiting_restart') log(p.name, 'waits');
    if (status === 'online' || status === 'stopping' || status === 'stopped' || status === 'launching' ||
        status === 'errored' || status === 'one-launch-status') log(p.name, status);
    log(p.monit && p.monit.cpu, p.monit && p.monit.memory);
  }
});

pm2.dump(onResult);
pm2.dump((err, result) => log(err, result));
pm2.flush('api', onResult);
pm2.flush(0, (err, result) => log(err, result));
pm2.reloadLogs(onResult);
pm2.launchBus(onBus);
pm2.launchBus((err, bus) => bus.on('log:err', (packet: any) => log(packet.data)));

pm2.sendSignalToProcessName('SIGUSR2', 'api', onResult);
pm2.sendSignalToProcessName(2, 0, (err, result) => log(err, result));

pm2.startup('systemd', onResult);
pm2.startup('ubuntu', onResult);
pm2.startup('centos', onResult);
pm2.startup('redhat', onResult);
pm2.startup('gentoo', onResult);
pm2.startup('darwin', onResult);
pm2.startup('amazon', onResult);

pm2.sendDataToProcessId(0, { type: 'process:msg', topic: true, data: { hello: 'world' } }, onResult);
pm2.sendDataToProcessId(1, { topic: 'my-topic', data: {} }, (err, res) => log(err, res));
pm2.sendDataToProcessId({ id: 0, type: 'process:msg', topic: true, data: { some: 'data' } });

// ---------------------------------------------------------------------------
// the rest of pm2's functions, with and without their optional arguments

pm2.launchSysMonitoring();
pm2.launchSysMonitoring(onError);

pm2.profile('cpu');
pm2.profile('mem', 5000);
pm2.profile('cpu', 10000, onError);

pm2.env(0);
pm2.env('api', onError);

pm2.getPID();
pm2.getPID('api');
pm2.getPID(undefined, onProc);
pm2.getPID('api', (err: Error, proc: Proc) => log(err, proc));

pm2.trigger(0, 'refresh');
pm2.trigger('api', 'refresh', { force: true });
pm2.trigger('api', 'refresh', undefined, onError);
pm2.trigger(1, 'refresh', 'param', (err) => log(err));

pm2.inspect('api');
pm2.inspect('api', onError);

const serveOptions: ServeOptions = { spa: true, ftp: false, basic_auth_username: 'u', basic_auth_password: 'p', monitor: 'static' };
pm2.serve();
pm2.serve('./public');
pm2.serve('./public', 8080);
pm2.serve('./public', 8080, serveOptions);
pm2.serve('./public', 8080, { spa: true }, onError);

const installOptions: InstallOptions = { tarball: false, install: true, docker: false, v1: false, safe: 30 };
pm2.install('pm2-logrotate');
pm2.install('pm2-logrotate', installOptions);
pm2.install('pm2-logrotate', { safe: true }, onError);
pm2.uninstall('all');
pm2.uninstall('pm2-logrotate', onError);

pm2.sendLineToStdin(0, 'hello');
pm2.sendLineToStdin('api', 'hello', '\r\n');
pm2.sendLineToStdin(0, 'hello', '\n', onError);

pm2.attach(0);
pm2.attach('0', '\n');
pm2.attach(0, '\n', onError);

pm2.get();
pm2.get('pm2-logrotate:max_size');
pm2.get('pm2-logrotate', onError);
pm2.set('pm2-logrotate:max_size', '10M');
pm2.set('pm2-logrotate:retain', 7, onError);
pm2.multiset('pm2-logrotate:max_size 10M pm2-logrotate:retain 7');
pm2.multiset('pm2-logrotate:compress true', onError);
pm2.unset('pm2-logrotate:max_size');
pm2.unset('pm2-logrotate', onError);

// ---------------------------------------------------------------------------
// interfaces: every field of pm2's, read and written as users do

const proc: Proc = {
  name: 'api', vizion: true, autorestart: true, exec_mode: 'fork_mode', exec_interpreter: 'node',
  pm_exec_path: '/srv/app.js', pm_cwd: '/srv', instances: 1, node_args: ['--max-old-space-size=512'],
  pm_out_log_path: '/srv/out.log', pm_err_log_path: '/srv/err.log', pm_pid_path: '/srv/app.pid',
  status: 'online', pm_uptime: 0, axm_actions: [], axm_monitor: {}, axm_dynamic: {}, vizion_running: false,
  created_at: 0, pm_id: 0, restart_time: 0, unstable_restarts: 0, started_inside: false,
  command: { locked: false, metadata: {}, started_at: 0, finished_at: 0, error: null }, versioning: null, exit_code: 0,
};
const command: Command = proc.command || {};
log(command.locked, command.metadata, command.started_at, command.finished_at, command.error);
const procStatus: string | undefined = proc.status;
log(procStatus);

function show(pd: ProcessDescription): void {
  log(pd.name, pd.pid, pd.pm_id);
  if (pd.monit) log(pd.monit.memory, pd.monit.cpu);
  const env = pd.pm2_env;
  if (!env) return;
  log(env.pm_cwd, env.pm_out_log_path, env.pm_err_log_path, env.exec_interpreter, env.pm_uptime,
    env.unstable_restarts, env.restart_time, env.status, env.instances, env.pm_exec_path);
  const instances: number | 'max' | undefined = env.instances;
  const cwd: string | undefined = env.pm_cwd;
  const uptime: number | undefined = env.pm_uptime;
  log(instances, cwd, uptime);
  switch (env.status) {
    case 'online': case 'stopping': case 'stopped': case 'launching': case 'errored':
    case 'one-launch-status': case 'waiting_restart': case undefined:
      break;
  }
}
show({ name: 'api', pid: 1, pm_id: 0, monit: { memory: 1, cpu: 0 }, pm2_env: { status: 'waiting_restart', instances: 'max' } });

const everyStartOption: StartOptions = {
  autostart: true,
  autorestart: true,
  stop_exit_codes: [0, 2],
  name: 'api',
  script: 'app.js',
  args: ['--port', '3000'],
  interpreter_args: '--harmony',
  cwd: '/srv',
  output: '/srv/out.log',
  error: '/srv/err.log',
  log_date_format: 'YYYY-MM-DD HH:mm Z',
  pid: '/srv/app.pid',
  min_uptime: 1000,
  max_restarts: 10,
  max_memory_restart: '150M',
  port: 3000,
  node_args: ['--inspect'],
  time: true,
  wait_ready: true,
  kill_timeout: 1600,
  restart_delay: 0,
  interpreter: 'node',
  exec_mode: 'cluster',
  instances: 4,
  merge_logs: true,
  watch: ['src'],
  force: true,
  ignore_watch: ['node_modules'],
  cron: '0 0 * * *',
  execute_command: true,
  write: true,
  source_map_support: true,
  disable_source_map_support: false,
  env: { NODE_ENV: 'production' },
  namespace: 'backend',
  exp_backoff_restart_delay: 100,
  listen_timeout: 3000,
  shutdown_with_message: true,
  increment_var: 'PORT',
  instance_var: 'INSTANCE_ID',
  filter_env: ['SECRET_'],
  disable_logs: false,
  log_type: 'json',
  container: false,
  dist: false,
  image_name: 'app',
  node_version: '20',
  fresh: false,
  dockerdaemon: false,
};
const watchAll: StartOptions = { watch: true, interpreter_args: ['--harmony'], args: '--port 3000', node_args: '--inspect', filter_env: true };
pm2.start(everyStartOption, onProc);
pm2.start(watchAll, onProc);

const docker: DockerOptions = { imageName: 'app', nodeVersion: '20', fresh: true, force: true, dockerdaemon: false };
log(docker);
