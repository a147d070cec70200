// Compile-only: every line after `@ts-expect-error` must be rejected by
// index.d.ts under `tsc --strict`. If one of them starts compiling, tsc reports
// "Unused '@ts-expect-error' directive" and __test__/types.test.js fails.

import pm2 from 'pm2';
import * as pm2ns from 'pm2';
import { StartOptions } from 'pm2';

// a number where the callback goes
// @ts-expect-error
pm2.connect(42);
// @ts-expect-error
pm2.list(1);
// @ts-expect-error
pm2.start({ script: 'app.js' }, 1);
// @ts-expect-error
pm2.stop('api', 0);
// @ts-expect-error
pm2.describe('api', 123);
// @ts-expect-error
pm2.killDaemon(7);
// @ts-expect-error
pm2.launchBus(0);

// misspelt methods
// @ts-expect-error
pm2.conect(() => {});
// @ts-expect-error
pm2.lsit(() => {});
// @ts-expect-error
pm2ns.restrat('api', () => {});
// @ts-expect-error
pm2.killDeamon(() => {});

// wrong option types
// @ts-expect-error
pm2.start({ script: 'app.js', instances: {} }, () => {});
// @ts-expect-error
const badInstances: StartOptions = { instances: {} };
// @ts-expect-error
const badAutorestart: StartOptions = { autorestart: 'yes' };
// @ts-expect-error
const badEnv: StartOptions = { env_production: 'production' };
// @ts-expect-error
const unknownOption: StartOptions = { scirpt: 'app.js' };
// @ts-expect-error
pm2.reload('api', { updateEnv: 'yes' }, () => {});
// @ts-expect-error
const badCustom = new pm2.custom({ daemon_mode: 'yes' });

// wrong argument types
// @ts-expect-error
pm2.stop({ name: 'api' }, () => {});
// @ts-expect-error
pm2.startup('windows', () => {});
// @ts-expect-error
pm2.sendDataToProcessId(0, { topic: true }, () => {});

// callback parameters are precise
pm2.list((err, list) => {
  // @ts-expect-error err may be null or undefined
  const message: string = err.message;
  // @ts-expect-error list is ProcessDescription[]
  const name: string = list.name;
  void message;
  void name;
});
// @ts-expect-error the result is ProcessDescription[], not a string
pm2.list((err: Error | null, list: string) => void [err, list]);
pm2.killDaemon((err, result) => {
  // @ts-expect-error result is { success: boolean }
  const n: number = result.success;
  void [err, n];
});
pm2.list((err, list) => {
  // @ts-expect-error 'waiting-restart' is not a status ('waiting restart' or pm2's typings' 'waiting_restart')
  const waiting = list[0].pm2_env?.status === 'waiting-restart';
  void [err, waiting];
});

// a callback-style call returns void, not a Promise
// @ts-expect-error
pm2.list(() => {}).then(() => {});
// the promise form resolves to the result
async function promiseMisuse(): Promise<void> {
  // @ts-expect-error list() resolves to ProcessDescription[]
  const list: string = await pm2.list();
  void list;
}

// the rest of pm2's surface keeps its argument types
// @ts-expect-error profiles are 'cpu' or 'mem'
pm2.profile('disk');
// @ts-expect-error env() needs the app
pm2.env();
// @ts-expect-error keys are strings
pm2.set(42, '10M');
// @ts-expect-error multiset() takes one "key value ..." string
pm2.multiset(['pm2-logrotate:max_size', '10M']);
// @ts-expect-error serve() options are ServeOptions
pm2.serve('./public', 8080, { spa: 'yes' });
// @ts-expect-error install() options are InstallOptions
pm2.install('pm2-logrotate', { tarbal: true });

// the instance properties are typed
// @ts-expect-error
const home: number = pm2.pm2_home;
// @ts-expect-error custom instances are created with `new`
const notNew = pm2.custom({ cwd: '.' });

void [badInstances, badAutorestart, badEnv, unknownOption, badCustom, promiseMisuse, home, notNew];
