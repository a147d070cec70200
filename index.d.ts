// Type definitions for pm2-rs, a drop-in replacement for the `pm2` module.
//
// The module is CommonJS: `module.exports` is an instance of the API class and
// `module.exports.custom` is the class itself. That is modelled with `export =`
// of a constant whose type-only namespace carries every exported type, so all
// of these work:
//
//   import pm2 from 'pm2';                  // with esModuleInterop
//   import * as pm2 from 'pm2';
//   import pm2 = require('pm2');
//   import { StartOptions, ProcessDescription } from 'pm2';
//   const pm2 = require('pm2');             // JavaScript with checkJs
//
// Every method that takes an errback also has an overload without it that
// returns a Promise of the same result.
//
// This file deliberately depends on nothing (not even @types/node).

declare const pm2: pm2.API & {
  /**
   * The API class. Use it to drive a daemon other than the default one:
   * `new pm2.custom({ pm2_home, cwd, daemon_mode, independent })`.
   */
  custom: pm2.APIConstructor;
};

declare namespace pm2 {
  // ---------------------------------------------------------------------------
  // Callbacks

  /**
   * Node-style errback without a result. `err` is null or undefined on success.
   *
   * The callback types are written as a method signature so that TypeScript
   * compares their parameters bivariantly: callbacks annotated for pm2's own
   * typings (e.g. `(err: Error) => void`, or `(err?: Error) => void`) are still
   * accepted, while contextually typed callbacks see the precise type.
   */
  export type ErrCallback = { bivarianceHack(err: Error | null | undefined): void }['bivarianceHack'];
  /** Node-style errback with a result (the result is only meaningful when `err` is not set). */
  export type ErrResultCallback<T = any> = {
    bivarianceHack(err: Error | null | undefined, result: T): void;
  }['bivarianceHack'];
  /** Errback of start / stop / restart / reload / delete: the processes acted on. */
  export type ErrProcCallback = ErrResultCallback<ProcList>;
  /** Errback receiving a single process description. */
  export type ErrProcDescCallback = ErrResultCallback<ProcessDescription>;
  /** Errback of list / describe. */
  export type ErrProcDescsCallback = ErrResultCallback<ProcessDescription[]>;
  /** Errback of launchBus. */
  export type ErrBusCallback = ErrResultCallback<Bus>;

  // ---------------------------------------------------------------------------
  // Literal types

  export type ProcessStatus =
    | 'online'
    | 'stopping'
    | 'stopped'
    | 'launching'
    | 'errored'
    | 'one-launch-status'
    | 'waiting restart'
    /** The spelling of pm2's own typings; the runtime reports `'waiting restart'`. */
    | 'waiting_restart';

  export type Platform =
    | 'ubuntu'
    | 'ubuntu12'
    | 'ubuntu14'
    | 'centos'
    | 'centos6'
    | 'redhat'
    | 'gentoo'
    | 'arch'
    | 'oracle'
    | 'amazon'
    | 'systemd'
    | 'systemv'
    | 'upstart'
    | 'openrc'
    | 'darwin'
    | 'macos'
    | 'launchd'
    | 'freebsd'
    | 'rcd'
    | 'openbsd'
    | 'rcd-openbsd'
    | 'smf'
    | 'sunos'
    | 'solaris';

  // ---------------------------------------------------------------------------
  // The API class

  /** Options of `new pm2.custom(options)`. */
  export interface CustomOptions {
    /** Directory relative script paths are resolved against (default: `process.cwd()`). */
    cwd?: string;
    /** PM2 home directory (default: `$PM2_HOME` or `~/.pm2`). Cannot be combined with `independent`. */
    pm2_home?: string;
    /** (Default: true) Keep the daemon running after this process exits. */
    daemon_mode?: boolean;
    /** Use a fresh, randomly named PM2 home. Cannot be combined with `pm2_home`. */
    independent?: boolean;
  }

  export interface APIConstructor {
    new (options?: CustomOptions): API;
    readonly prototype: API;
  }

  export interface APIClient {
    daemon_mode: boolean;
  }

  /** An instance of the API class: the module itself, or `new pm2.custom(...)`. */
  export interface API {
    /** The PM2 home directory this instance talks to. */
    pm2_home: string;
    /** Whether the daemon outlives this process. */
    daemon_mode: boolean;
    /** Directory relative script paths are resolved against. */
    cwd: string;
    Client: APIClient;

    // -- connection ----------------------------------------------------------

    /**
     * Connects to the pm2 daemon of `pm2_home`, launching it if it is not running.
     * @param noDaemonMode - (Default: false) if true, the daemon dies when this process exits.
     */
    connect(errback: ErrResultCallback<ConnectMeta>): void;
    connect(noDaemonMode: boolean, errback: ErrResultCallback<ConnectMeta>): void;
    connect(noDaemonMode?: boolean): Promise<ConnectMeta>;

    /** Disconnects from the daemon (the daemon keeps running). */
    disconnect(errback: ErrCallback): void;
    disconnect(): Promise<void>;

    /** Alias of `disconnect`. */
    close(errback: ErrCallback): void;
    close(): Promise<void>;

    /**
     * Kills the daemon, disconnects and deletes `pm2_home` (meant for instances
     * created with `independent: true`).
     */
    destroy(errback: ErrCallback): void;
    destroy(): Promise<void>;

    /**
     * Stops every process and kills the daemon. You still have to `disconnect()`
     * afterwards.
     */
    killDaemon(errback: ErrResultCallback<KillResult>): void;
    killDaemon(): Promise<KillResult>;

    /** Alias of `killDaemon`. */
    kill(errback: ErrResultCallback<SuccessResult>): void;
    kill(): Promise<SuccessResult>;

    /** Opens the event bus (logs, process events, process messages). */
    launchBus(errback: ErrBusCallback): void;
    launchBus(): Promise<Bus>;

    // -- process management --------------------------------------------------

    /** Starts a script described by `options` (`options.script` is required). */
    start(options: StartOptions, errback: ErrProcCallback): void;
    /** Starts a script, or the apps of a JSON / JS ecosystem file. */
    start(script: string, errback: ErrProcCallback): void;
    start(script: string, options: StartOptions, errback: ErrProcCallback): void;
    start(script: string, jsonConfigFile: string, errback: ErrProcCallback): void;
    start(options: StartOptions): Promise<ProcList>;
    start(script: string, options?: StartOptions): Promise<ProcList>;
    start(script: string, jsonConfigFile: string): Promise<ProcList>;

    /**
     * Stops a process but keeps it in the list.
     * @param process - a name, a pm_id, or `'all'`
     */
    stop(process: string | number, errback: ErrProcCallback): void;
    stop(process: string | number): Promise<ProcList>;

    /**
     * Stops and starts a process again.
     * @param process - a name, a pm_id, or `'all'`
     */
    restart(process: string | number, errback: ErrProcCallback): void;
    restart(process: string | number, options: ReloadOptions, errback: ErrProcCallback): void;
    restart(process: string | number, options?: ReloadOptions): Promise<ProcList>;

    /**
     * Zero-downtime rolling restart (cluster mode); behaves like restart otherwise.
     * @param process - a name, a pm_id, or `'all'`
     */
    reload(process: string | number, errback: ErrProcCallback): void;
    reload(process: string | number, options: ReloadOptions, errback: ErrProcCallback): void;
    reload(process: string | number, options?: ReloadOptions): Promise<ProcList>;

    /**
     * Stops a process and removes it from the list.
     * @param process - a name, a pm_id, or `'all'`
     */
    delete(process: string | number, errback: ErrProcCallback): void;
    delete(process: string | number): Promise<ProcList>;

    /** Alias of `delete`. */
    del(process: string | number, errback: ErrProcCallback): void;
    del(process: string | number): Promise<ProcList>;

    /**
     * Changes the number of instances of an app.
     * @param number - the wanted count, or a relative change such as `'+2'` / `'-1'`
     */
    scale(name: string, number: number | string, errback: ErrResultCallback<SuccessResult>): void;
    scale(name: string, number: number | string): Promise<SuccessResult>;

    /**
     * Resets the restart counters of a process.
     * @param process - a name, a pm_id, or `'all'`
     */
    reset(process: string | number, errback: ErrResultCallback<SuccessResult>): void;
    reset(process: string | number): Promise<SuccessResult>;

    // -- information ---------------------------------------------------------

    /** The processes managed by the daemon. */
    list(errback: ErrProcDescsCallback): void;
    list(): Promise<ProcessDescription[]>;

    /**
     * The processes matching a name or pm_id (an empty array when none match).
     */
    describe(process: string | number, errback: ErrProcDescsCallback): void;
    describe(process: string | number): Promise<ProcessDescription[]>;

    /** The pm_ids of the processes with this name. */
    getProcessIdByName(name: string, errback: ErrResultCallback<number[]>): void;
    getProcessIdByName(name: string): Promise<number[]>;

    /** The pids of every process, or of the processes with this name. */
    getPID(errback: ErrResultCallback<PidList>): void;
    getPID(name: string | number | undefined, errback: ErrResultCallback<PidList>): void;
    getPID(name?: string | number): Promise<PidList>;

    /** The version of the running daemon. */
    getVersion(errback: ErrResultCallback<string>): void;
    getVersion(): Promise<string>;

    /** Pings the daemon. */
    ping(errback: ErrResultCallback): void;
    ping(): Promise<any>;

    // -- logs ----------------------------------------------------------------

    /** Empties the log files of every process, or of one process. */
    flush(errback: ErrResultCallback): void;
    flush(process: string | number, errback: ErrResultCallback): void;
    flush(process?: string | number): Promise<any>;

    /** Reopens every log file (after external rotation). */
    reloadLogs(errback: ErrResultCallback): void;
    reloadLogs(): Promise<any>;

    // -- messages and signals ------------------------------------------------

    /** Sends `packet` to the process `proc_id` (received through `process.on('message')`). */
    sendDataToProcessId(proc_id: number, packet: ProcessPacket, errback: ErrResultCallback): void;
    /** Sends `packet` to the process `packet.id`. */
    sendDataToProcessId(packet: TargetedProcessPacket, errback: ErrResultCallback): void;
    sendDataToProcessId(proc_id: number, packet: ProcessPacket): Promise<any>;
    sendDataToProcessId(packet: TargetedProcessPacket): Promise<any>;

    /** Sends a signal (e.g. `'SIGUSR2'`) to every process with this name. */
    sendSignalToProcessName(signal: string | number, name: string | number, errback: ErrResultCallback): void;
    sendSignalToProcessName(signal: string | number, name: string | number): Promise<any>;

    /** Sends a signal (e.g. `'SIGUSR2'`) to the process with this pm_id. */
    sendSignalToProcessId(signal: string | number, pm_id: number, errback: ErrResultCallback): void;
    sendSignalToProcessId(signal: string | number, pm_id: number): Promise<any>;

    /** Writes `line` followed by a newline to the stdin of a process. */
    sendLineToStdin(pm_id: number | string, line: string, errback: ErrResultCallback): void;
    sendLineToStdin(pm_id: number | string, line: string, separator: string | undefined, errback: ErrResultCallback): void;
    sendLineToStdin(pm_id: number | string, line: string, separator?: string): Promise<any>;

    /**
     * Triggers a custom action exposed by the process(es) `pm_id` (a pm_id, a
     * name, or `'all'`); `params` is passed to the action.
     */
    trigger(pm_id: number | string, action_name: string, errback: ErrResultCallback): void;
    trigger(pm_id: number | string, action_name: string, params: unknown, errback: ErrResultCallback): void;
    trigger(pm_id: number | string, action_name: string, params?: unknown): Promise<any>;

    // -- persistence ---------------------------------------------------------

    /**
     * Saves the process list to `<pm2_home>/dump.pm2`.
     * @param force - also save an empty list
     */
    dump(errback: ErrResultCallback<SuccessResult>): void;
    dump(force: boolean, errback: ErrResultCallback<SuccessResult>): void;
    dump(force?: boolean): Promise<SuccessResult>;

    /** Starts the processes saved by `dump`. */
    resurrect(errback: ErrResultCallback): void;
    resurrect(): Promise<any>;

    /** Replaces the dump file with an empty list. */
    clearDump(errback: ErrCallback): void;
    clearDump(): Promise<void>;

    /** Saves the process list, restarts the daemon and resurrects the processes. */
    update(errback: ErrResultCallback<SuccessResult>): void;
    update(): Promise<SuccessResult>;

    /** Installs an init script so that the daemon and the dumped processes start on boot. */
    startup(platform: Platform, errback: ErrResultCallback): void;
    startup(platform: Platform, options: StartupOptions, errback: ErrResultCallback): void;
    startup(platform: Platform, options?: StartupOptions): Promise<any>;

    /** Removes the init script installed by `startup`. */
    uninstallStartup(platform: Platform, errback: ErrResultCallback): void;
    uninstallStartup(platform: Platform, options: StartupOptions, errback: ErrResultCallback): void;
    uninstallStartup(platform: Platform, options?: StartupOptions): Promise<any>;

    // -- what pm2's CLI prints (also printed here, to this process's stdout) ---

    /** Prints the process list as JSON (`util.inspect` with `debug`) and answers it. */
    jlist(errback: ErrProcDescsCallback): void;
    jlist(debug: boolean, errback: ErrProcDescsCallback): void;
    jlist(debug?: boolean): Promise<ProcessDescription[]>;

    /** Prints what the machine has (cpus, memory, load) and answers it. */
    slist(errback: ErrResultCallback<SystemInfo>): void;
    slist(tree: boolean, errback: ErrResultCallback<SystemInfo>): void;
    slist(tree?: boolean): Promise<SystemInfo>;

    /** What pm2 prints after a CLI action; nothing for a script (returns false). */
    speedList(code?: number, apps_acted?: unknown[]): false;
    /** pm2's way out of a CLI command; nothing for a script (returns false). */
    exitCli(code?: number): false;

    /** Prints the app's `pm2_env` as `key: value` lines and answers it. */
    env(app_id: string | number, errback: ErrResultCallback<Pm2Env>): void;
    env(app_id: string | number): Promise<Pm2Env>;

    getProcessIdsByNamespace(namespace: string | number, errback: ErrResultCallback<number[]>): void;
    getProcessIdsByNamespace(namespace: string | number): Promise<number[]>;

    /** Prints the facts pm2's issue template asks for, and answers them. */
    report(errback: ErrResultCallback): void;
    report(): Promise<any>;

    /** Tails the apps' log files to stdout (`<id>|<name> | line`), then returns. */
    printLogs(id?: string | number, lines?: number, raw?: boolean, timestamp?: string | false, exclusive?: 'out' | 'err' | false): Promise<void>;
    /** Tails, then streams every new line to stdout until `close()` is called. */
    streamLogs(id?: string | number, lines?: number, raw?: boolean, timestamp?: string | false, exclusive?: 'out' | 'err' | false, highlight?: string): Promise<LogStream>;

    // -- @pm2/io actions ------------------------------------------------------

    msgProcess(opts: { id?: number; name?: string; msg: string; opts?: unknown }, errback: ErrResultCallback): void;
    msgProcess(opts: { id?: number; name?: string; msg: string; opts?: unknown }): Promise<any>;

    /** Asks the app's @pm2/io to open the inspector (its `internal:inspect` action). */
    inspect(app_name: string | number, errback: ErrResultCallback): void;
    inspect(app_name: string | number): Promise<any>;

    /**
     * Records a CPU (`'cpu'`) or heap (`'mem'`) profile of every app whose @pm2/io offers
     * the profiling actions, for `time` ms (default 10000); writes one file per app in cwd.
     */
    profile(type: 'cpu' | 'mem', errback: ErrResultCallback<ProfileFile[]>): void;
    profile(type: 'cpu' | 'mem', time: number | undefined, errback: ErrResultCallback<ProfileFile[]>): void;
    profile(type: 'cpu' | 'mem', time?: number): Promise<ProfileFile[]>;

    /** This process's stdin goes to the app's stdin, the app's output to stdout, until stdin ends. */
    attach(pm_id: number | string, errback: ErrCallback): void;
    attach(pm_id: number | string, separator: string | undefined, errback: ErrCallback): void;
    attach(pm_id: number | string, separator?: string): Promise<void>;

    // -- generated apps and files -------------------------------------------

    /** Starts a static file server app (`static-page-server-<port>`) over `path` (default cwd). */
    serve(errback: ErrProcCallback): void;
    serve(path: string | undefined, errback: ErrProcCallback): void;
    serve(path: string | undefined, port: number | string | undefined, errback: ErrProcCallback): void;
    serve(path: string | undefined, port: number | string | undefined, options: ServeOptions | undefined, errback: ErrProcCallback): void;
    serve(path: string | undefined, port: number | string | undefined, options: ServeOptions | undefined, commander: { name?: string } | undefined, errback: ErrProcCallback): void;
    serve(path?: string, port?: number | string, options?: ServeOptions, commander?: { name?: string }): Promise<ProcList>;

    /** Writes an `ecosystem.config.js` in cwd (`'simple'`: one app); never replaces one. */
    generateSample(errback: ErrResultCallback<GeneratedFile>): void;
    generateSample(mode: 'simple' | string | undefined, errback: ErrResultCallback<GeneratedFile>): void;
    generateSample(mode?: 'simple' | string): Promise<GeneratedFile>;

    /** Writes a Dockerfile in cwd that runs `script` under pm2 (replaced only with `force`). */
    generateDockerfile(script: string, errback: ErrResultCallback): void;
    generateDockerfile(script: string, options: DockerOptions & { mode?: 'development' | 'distribution'; node_version?: string }, errback: ErrResultCallback): void;
    generateDockerfile(script: string, options?: DockerOptions & { mode?: 'development' | 'distribution'; node_version?: string }): Promise<any>;

    /** Runs pm2-deploy over the config file's `deploy` section: `[env, ...command]`. */
    deploy(file: string, commands: string[] | string | { rawArgs: string[] }, errback: ErrResultCallback): void;
    deploy(file: string, commands?: string[] | string | { rawArgs: string[] }): Promise<any>;

    /** dump(true). */
    autodump(errback: ErrResultCallback<SuccessResult>): void;
    autodump(): Promise<SuccessResult>;

    remote(command: string, opts: { name?: string | number }, errback: ErrResultCallback): void;
    remote(command: string, opts: { name?: string | number }): Promise<any>;
    remoteV2(command: string, opts: { args?: unknown[] }, errback: ErrResultCallback): void;
    remoteV2(command: string, opts: { args?: unknown[] }): Promise<any>;

    // -- pm2 modules: their configuration (module_conf.json) and pm2-logrotate ------

    /** `'pm2-logrotate'`: rotation is built in, its settings are kept. Other modules: an Error. */
    install(module_name: string, errback: ErrResultCallback): void;
    install(module_name: string, options: InstallOptions | undefined, errback: ErrResultCallback): void;
    install(module_name: string, options?: InstallOptions): Promise<any>;

    uninstall(module_name: string, errback: ErrResultCallback): void;
    uninstall(module_name: string): Promise<any>;

    deleteModule(module_name: string, errback: ErrCallback): void;
    deleteModule(module_name: string): Promise<void>;

    /** The whole configuration, a module's (`'pm2-logrotate'`) or one value (`'pm2-logrotate:max_size'`). */
    get(errback: ErrResultCallback): void;
    get(key: string | undefined, errback: ErrResultCallback): void;
    get(key?: string): Promise<any>;

    set(key: string, value: unknown, errback: ErrResultCallback<SuccessResult>): void;
    set(key: string, value: unknown): Promise<SuccessResult>;

    /** `'key1 value1 key2 value2'`. */
    multiset(values: string, errback: ErrResultCallback<SuccessResult>): void;
    multiset(values: string): Promise<SuccessResult>;

    /** A key, or `'all'` for everything. */
    unset(key: string, errback: ErrResultCallback<SuccessResult>): void;
    unset(key: string): Promise<SuccessResult>;

    /** conf(key, value) sets, conf(key) gets. */
    conf(key: string, errback: ErrResultCallback): void;
    conf(key: string, value: unknown, errback: ErrResultCallback): void;
    conf(key: string, value?: unknown): Promise<any>;

    // -- not supported: each fails with an Error saying why and what to use instead --

    launchSysMonitoring(errback?: ErrCallback): Promise<never> | void;
    dashboard(errback?: ErrCallback): Promise<never> | void;
    monit(errback?: ErrCallback): Promise<never> | void;
    boilerplate(errback?: ErrCallback): Promise<never> | void;
    autoinstall(errback?: ErrCallback): Promise<never> | void;
    deepUpdate(errback?: ErrCallback): Promise<never> | void;
    dockerMode(script: string, options?: unknown, mode?: string, errback?: ErrCallback): Promise<never> | void;
    logrotate(...args: unknown[]): Promise<never> | void;
    pullAndReload(process_name: string, errback?: ErrCallback): Promise<never> | void;
    pullAndRestart(process_name: string, errback?: ErrCallback): Promise<never> | void;
    pullCommitId(process_name: string, commit_id: string, errback?: ErrCallback): Promise<never> | void;
    forward(process_name: string, errback?: ErrCallback): Promise<never> | void;
    backward(process_name: string, errback?: ErrCallback): Promise<never> | void;
    link(...args: unknown[]): Promise<never> | void;
    unlink(errback?: ErrCallback): Promise<never> | void;
    linkManagement(...args: unknown[]): Promise<never> | void;
    plus(...args: unknown[]): Promise<never> | void;
    openDashboard(errback?: ErrCallback): Promise<never> | void;
    agentInfos(errback?: ErrCallback): Promise<never> | void;
    killAgent(errback?: ErrCallback): Promise<never> | void;
    minimumSetup(...args: unknown[]): Promise<never> | void;
    clearSetup(...args: unknown[]): Promise<never> | void;
    monitorState(...args: unknown[]): Promise<never> | void;
    package(module_path: string, errback?: ErrCallback): Promise<never> | void;
    publish(...args: unknown[]): Promise<never> | void;
    generateModuleSample(app_name: string, errback?: ErrCallback): Promise<never> | void;
    launchAll(...args: unknown[]): Promise<never> | void;
    launchModules(errback?: ErrCallback): Promise<never> | void;
  }

  // ---------------------------------------------------------------------------
  // Results

  /** What `connect` calls back with. */
  export interface ConnectMeta {
    /** Whether this call launched the daemon. */
    new_pm2_instance: boolean;
    daemon_mode: boolean;
    pm2_home: string;
    rpc_socket_file: string;
    pub_socket_file: string;
  }

  /**
   * What killDaemon answers. Also typed as a `ProcessDescription` because pm2's own
   * typings declared its errback that way.
   */
  export type KillResult = SuccessResult & ProcessDescription;

  /** getPID's pids; also typed as a `Proc` because pm2's own typings declared it so. */
  export type PidList = number[] & Proc;

  export interface SystemInfo {
    system: { hostname: string; platform: string; release: string; arch: string; uptime: number };
    cpu: { model: string; cores: number; load: number[] };
    mem: { total: number; free: number };
    processes: number;
  }

  export interface LogStream {
    /** Stops streaming (closes the bus it reads). */
    close(): Promise<void>;
  }

  export interface ProfileFile {
    name: string;
    pm_id: number;
    file: string;
  }

  export interface GeneratedFile {
    success: boolean;
    file: string;
  }

  export interface SuccessResult {
    success: boolean;
  }

  /**
   * The processes acted on by start / stop / restart / reload / delete: an array.
   *
   * It is also typed as a `Proc` because pm2's own typings declared a single
   * `Proc` here, and code such as `(err: Error, proc: pm2.Proc) => ...` or
   * `new Promise<pm2.Proc>(...)` must keep compiling. Every `Proc` field is
   * optional and none is an array member, so on the array itself they are
   * simply undefined.
   */
  export type ProcList = Proc[] & Proc;

  /** A process acted on by start / stop / restart / reload / delete. */
  export interface Proc {
    name?: string;
    namespace?: string;
    vizion?: boolean;
    autorestart?: boolean;
    exec_mode?: string;
    exec_interpreter?: string;
    pm_exec_path?: string;
    pm_cwd?: string;
    instances?: number;
    node_args?: string[];
    pm_out_log_path?: string;
    pm_err_log_path?: string;
    pm_pid_path?: string;
    status?: ProcessStatus;
    pm_uptime?: number;
    axm_actions?: any[];
    axm_monitor?: any;
    axm_dynamic?: any;
    vizion_running?: boolean;
    created_at?: number;
    pm_id?: number;
    pid?: number;
    restart_time?: number;
    unstable_restarts?: number;
    started_inside?: boolean;
    command?: Command;
    versioning?: any;
    exit_code?: number;
    pm2_env?: Pm2Env;
  }

  export interface Command {
    locked?: boolean;
    metadata?: any;
    started_at?: any;
    finished_at?: any;
    error?: any;
  }

  /** An entry of `list()` / `describe()`. */
  export interface ProcessDescription {
    /** The name given in the start options. */
    name?: string;
    namespace?: string;
    /** The pid of the process (0 when it is not running). */
    pid?: number;
    /** The id of the process in pm2's list. */
    pm_id?: number;
    monit?: Monit;
    /** The configuration and state of the process. */
    pm2_env?: Pm2Env;
  }

  export interface Monit {
    /** Resident memory of the process, in bytes. */
    memory?: number;
    /** CPU usage of the process, in percent. */
    cpu?: number;
  }

  /** The configuration and state of a process, as kept by the daemon. */
  export interface Pm2Env {
    name?: string;
    namespace?: string;
    pm_id?: number;
    status?: ProcessStatus;
    /** The working directory of the process. */
    pm_cwd?: string;
    /** The path of the script being run. */
    pm_exec_path?: string;
    /** The stdout log file path. */
    pm_out_log_path?: string;
    /** The stderr log file path. */
    pm_err_log_path?: string;
    /** The combined log file path, if any. */
    pm_log_path?: string;
    /** The pid file path. */
    pm_pid_path?: string;
    /** The interpreter used. */
    exec_interpreter?: string;
    exec_mode?: string;
    node_args?: string[];
    args?: string[];
    /** The number of instances. */
    instances?: number | 'max';
    autorestart?: boolean;
    watch?: boolean | string | string[];
    /** Start time of the current run (ms since the epoch). */
    pm_uptime?: number;
    created_at?: number;
    /** The number of restarts. */
    restart_time?: number;
    /** The number of unstable restarts (exits before min_uptime). */
    unstable_restarts?: number;
    exit_code?: number;
    cron_restart?: string | number;
    unique_id?: string;
    versioning?: any;
    axm_actions?: any[];
    axm_monitor?: any;
    axm_options?: any;
    /** The environment of the process. */
    env?: { [key: string]: unknown };
  }

  // ---------------------------------------------------------------------------
  // Options

  /** Environment variables for a process; values are converted to strings. */
  export interface ProcessEnv {
    [key: string]: string | number | boolean | undefined;
  }

  export interface StartOptions {
    /** The path of the script to run. */
    script?: string;
    /**
     * Name used to address the process later; defaults to the script name
     * without its extension.
     */
    name?: string;
    /** (Default: 'default') Namespace of the process. */
    namespace?: string;
    /** Arguments passed to the script. */
    args?: string | string[];
    /** Arguments passed to the interpreter (e.g. `'--harmony'`). */
    interpreter_args?: string | string[];
    /** Alias of `interpreter_args`. */
    node_args?: string | string[];
    /** (Default: 'node') Interpreter; `'none'` executes the script as a binary. */
    interpreter?: string;
    /** The working directory of the process. */
    cwd?: string;
    /** (Default: 'fork') `'fork'` or `'cluster'`. */
    exec_mode?: string;
    /** (Default: 1) How many instances to start; `'max'` or 0 for one per CPU. */
    instances?: number | 'max';

    // environment
    /** Environment variables injected into the process. */
    env?: ProcessEnv;
    /**
     * Inject the environment variables of the process' environment into pm2's list
     * (true for all, or the names to keep).
     */
    filter_env?: boolean | string | string[];
    /** Append the environment name to the app name. */
    append_env_to_name?: boolean;
    /** Shortcut for `env.PORT`. */
    port?: number;
    /** Name of an environment variable incremented for each instance. */
    increment_var?: string;
    /** (Default: 'NODE_APP_INSTANCE') Name of the variable holding the instance number. */
    instance_var?: string;
    /** User to run the process as. */
    uid?: number | string;
    /** Group to run the process as. */
    gid?: number | string;

    // logs
    /** File stdout is appended to (default: `<pm2_home>/logs/<name>-out.log`). */
    out_file?: string;
    /** Alias of `out_file`. */
    output?: string;
    /** File stderr is appended to (default: `<pm2_home>/logs/<name>-error.log`). */
    error_file?: string;
    /** Alias of `error_file`. */
    error?: string;
    /** File both streams are appended to; `true` for the default path. */
    log_file?: string | boolean;
    /** File the pid is written to (default: `<pm2_home>/pids/<name>-<id>.pid`). */
    pid_file?: string;
    /** Alias of `pid_file`. */
    pid?: string;
    /** Timestamp format prefixed to every log line (e.g. `'YYYY-MM-DD HH:mm Z'`). */
    log_date_format?: string;
    /** Prefix log lines with the time. */
    time?: boolean;
    /** `'json'` writes log lines as JSON objects. */
    log_type?: string;
    /** Do not store any log. */
    disable_logs?: boolean;
    /** In cluster mode, write all instances to the same log files. */
    merge_logs?: boolean;
    /** Rotate a log file once it is larger than this (e.g. `'10M'`, or bytes). */
    max_size?: string | number;
    /** How many rotated log files to keep. */
    retain?: number;

    // restarts
    /** (Default: true) Start the process when it is added. */
    autostart?: boolean;
    /** (Default: true) Restart the process when it exits. */
    autorestart?: boolean;
    /** Exit codes that do not trigger an automatic restart. */
    stop_exit_codes?: number | number[];
    /** Cron pattern at which the process is restarted. */
    cron_restart?: string | number;
    /** Alias of `cron_restart`. */
    cron?: string | number;
    /** (Default: 1000) Uptime (ms, or e.g. `'10s'`) after which a start counts as stable. */
    min_uptime?: number | string;
    /** (Default: 16) Unstable restarts in a row after which the process is marked errored. */
    max_restarts?: number;
    /** Restart when the memory usage exceeds this (bytes, or e.g. `'150M'`). */
    max_memory_restart?: number | string;
    /** (Default: 0) Delay (ms) before an automatic restart. */
    restart_delay?: number;
    /** Base delay (ms) of exponentially growing restart delays. */
    exp_backoff_restart_delay?: number;

    // stopping
    /** (Default: 1600) Time (ms) between SIGINT and SIGKILL when stopping. */
    kill_timeout?: number;
    /** Interval (ms) between kill attempts. */
    kill_retry_time?: number;
    /** (Default: true) Also kill the children of the process. */
    treekill?: boolean;
    /** Stop the process with `process.send('shutdown')` instead of a signal. */
    shutdown_with_message?: boolean;

    // readiness
    /** Wait for `process.send('ready')` before considering the process online. */
    wait_ready?: boolean;
    /** Time (ms) to wait for readiness. */
    listen_timeout?: number;

    // watching
    /** Restart on file changes (true, or the paths to watch). */
    watch?: boolean | string | string[];
    /** Paths (or patterns) not watched. */
    ignore_watch?: string | string[];
    /** Delay (ms) between a file change and the restart. */
    watch_delay?: number;
    /** Options of the file watcher (chokidar-compatible). */
    watch_options?: WatchOptions;

    /** Start a new process even if this script is already running. */
    force?: boolean;

    // accepted for compatibility with pm2's own typings
    vizion?: boolean;
    execute_command?: boolean;
    write?: boolean;
    source_map_support?: boolean;
    disable_source_map_support?: boolean;
    container?: boolean;
    dist?: boolean;
    image_name?: string;
    node_version?: string;
    fresh?: boolean;
    dockerdaemon?: boolean;

    /** Environment selected with `--env <name>` (ecosystem files), e.g. `env_production`. */
    [key: `env_${string}`]: ProcessEnv | undefined;
  }

  export interface WatchOptions {
    usePolling?: boolean;
    interval?: number;
    binaryInterval?: number;
    followSymlinks?: boolean;
    persistent?: boolean;
    ignoreInitial?: boolean;
    depth?: number;
    awaitWriteFinish?: boolean | { stabilityThreshold?: number; pollInterval?: number };
    [option: string]: unknown;
  }

  export interface ReloadOptions {
    /** (Default: false) Refresh the process' environment from `process.env`. */
    updateEnv?: boolean;
  }

  export interface StartupOptions {
    /** User the daemon runs as. */
    user?: string;
    /** Name of the init service. */
    serviceName?: string;
    /** Home directory of that user. */
    hp?: string;
    /** (systemd) Wait for the network to be online. */
    waitIp?: boolean;
  }

  /** Options of pm2's `serve` (kept for type compatibility; the method is not provided). */
  export interface ServeOptions {
    spa?: boolean;
    ftp?: boolean;
    basic_auth_username?: string;
    basic_auth_password?: string;
    monitor?: string;
  }

  /** Options of pm2's docker commands (kept for type compatibility). */
  export interface DockerOptions {
    imageName?: string;
    nodeVersion?: string;
    fresh?: boolean;
    force?: boolean;
    dockerdaemon?: boolean;
  }

  /** Options of pm2's `install` (kept for type compatibility; the method is not provided). */
  export interface InstallOptions {
    tarball?: boolean;
    install?: boolean;
    docker?: boolean;
    v1?: boolean;
    safe?: boolean | number;
  }

  // ---------------------------------------------------------------------------
  // Messages

  /** A message for a process (it arrives through `process.on('message')`). */
  export interface ProcessPacket {
    /** Usually `'process:msg'`. */
    type?: string;
    topic: string | boolean;
    data: unknown;
    [key: string]: unknown;
  }

  export interface TargetedProcessPacket extends ProcessPacket {
    /** pm_id of the target process. */
    id: number;
  }

  // ---------------------------------------------------------------------------
  // Bus

  /** Identifies the process an event comes from. */
  export interface BusProcess {
    pm_id: number;
    name: string;
    namespace?: string;
    [key: string]: unknown;
  }

  /** `log:out` / `log:err`: a chunk of output of a process. */
  export interface BusLogPacket {
    process: BusProcess;
    /** The output, as written to the log file. */
    data: string;
    /** Time of the event (ms since the epoch). */
    at: number;
  }

  /** `process:event`: a lifecycle event (`'start'`, `'online'`, `'exit'`, `'restart'`, `'stop'`, `'delete'`, ...). */
  export interface BusProcessEventPacket {
    event: string;
    /** Whether the event was caused by a command rather than by the process. */
    manually: boolean;
    process: Pm2Env & BusProcess;
    at: number;
  }

  /** `process:msg` (or the `type` of the message): a message sent by a process with `process.send()`. */
  export interface BusProcessMessagePacket {
    process: BusProcess;
    /** The `data` field of a `{ type, data }` message. */
    data?: unknown;
    /** The whole message, when it was not of the `{ type, data }` form. */
    raw?: unknown;
    at: number;
  }

  /** The event bus of `launchBus()`. Patterns may use `*` wildcards (e.g. `'log:*'`). */
  export interface Bus {
    on(event: 'log:out' | 'log:err', listener: (packet: BusLogPacket) => void): void;
    on(event: 'process:event', listener: (packet: BusProcessEventPacket) => void): void;
    on(event: 'process:msg', listener: (packet: BusProcessMessagePacket) => void): void;
    /** For wildcard patterns the listener receives the matched event name first. */
    on(pattern: string, listener: (...args: any[]) => void): void;
    /** Removes one listener, or every listener of the pattern. */
    off(pattern: string, listener?: (...args: any[]) => void): void;
    /** Closes the bus connection. */
    close(): void;
  }
}

export = pm2;
