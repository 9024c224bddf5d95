import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { boundPort, expectReady, waitForExporterStart } from './exporter-log.js';
import { type KamailioRoutes, type KamailioTrace, kamailioConfig, uriHost } from './kamailio.js';
import {
  freePort,
  type LabProcess,
  readText,
  requireProgram,
  runProcess,
  startProcess,
  waitFor,
} from './processes.js';
import { UAC_REGISTER, uacFinal, uasFinal } from './sipp.js';
import { parseSippScreen } from './sipp-report.js';

const root = dirname(dirname(fileURLToPath(import.meta.url)));

/** Everything the lab started, to stop in reverse order and to show when a test fails. */
export class Lab {
  readonly processes: LabProcess[] = [];
  readonly dir: string;

  constructor(dir?: string) {
    this.dir = dir ?? mkdtempSync(join(tmpdir(), 'sre-lab-'));
    mkdirSync(this.dir, { recursive: true });
  }

  start(name: string, program: string, args: string[], cwd?: string): LabProcess {
    return this.adopt(startProcess(this.dir, name, program, args, cwd));
  }

  /** Takes a process started elsewhere under the lab's care: stopped with it, shown in its logs. */
  adopt(p: LabProcess): LabProcess {
    this.processes.push(p);
    return p;
  }

  async stop(): Promise<void> {
    for (const p of [...this.processes].reverse()) await p.stop();
    this.processes.length = 0;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The tail of every log, for a failure message. */
  logs(lines = 40): string {
    return this.processes
      .map((p) => `--- ${p.name} (${p.logFile}) ---\n${p.log().split('\n').slice(-lines).join('\n')}`)
      .join('\n');
  }
}

export interface ExporterHandle {
  web: string;
  hepPort: number;
  syslogPort: number;
  process: LabProcess;
  metrics: () => Promise<string>;
}

/**
 * The exporter itself, from this checkout. Every listener binds port 0 (on `hepHost` for HEP, if
 * given, else 127.0.0.1) and the ports come back from its own log, so no other process can take
 * one between a pick and the bind.
 */
export async function startExporter(
  lab: Lab,
  name: string,
  flags: string[] = [],
  options: { hepHost?: string } = {},
): Promise<ExporterHandle> {
  const process_ = lab.start(
    name,
    process.execPath,
    [
      '--import',
      'tsx',
      join(root, 'src/cli.ts'),
      '--web.listen-address',
      '127.0.0.1:0',
      '--hep.listen-address',
      `${uriHost(options.hepHost ?? '127.0.0.1')}:0`,
      '--syslog.listen-address',
      '127.0.0.1:0',
      ...flags,
    ],
    root,
  );
  const exited = () => process_.child.exitCode ?? process_.child.signalCode;
  const lines = await waitForExporterStart(name, process_.log, exited);
  const web = `127.0.0.1:${boundPort(lines, 'web')}`;
  await expectReady(web, process_.log);
  const metrics = async () => (await fetch(`http://${web}/metrics`)).text();
  return {
    web,
    hepPort: boundPort(lines, 'hep'),
    syslogPort: boundPort(lines, 'syslog', 'udp'),
    process: process_,
    metrics,
  };
}

export interface Callees {
  answer: number;
  busy: number;
  decline: number;
  /** a callee that rings and answers after known pauses (lab/sipp.ts uasSlow), where started */
  slow?: number;
  /** a callee that rings and never answers until cancelled (lab/sipp.ts UAS_RING_UNTIL_CANCEL), where started */
  ring?: number;
}

/**
 * sipp callees on `host`: the built-in uas answers, two more scenarios answer 486 and 603.
 * Callees on another host than 127.0.0.1 get their host in their process names.
 */
export async function startCallees(lab: Lab, host = '127.0.0.1'): Promise<Callees> {
  const sipp = requireProgram('sipp', 'sip-tester');
  const ports = {
    answer: await freePort(host),
    busy: await freePort(host),
    decline: await freePort(host),
  };
  writeFileSync(join(lab.dir, 'uas-486.xml'), uasFinal(486));
  writeFileSync(join(lab.dir, 'uas-603.xml'), uasFinal(603));
  const common = (port: number) => ['-i', host, '-p', String(port), '-nostdin', '-trace_err'];
  const tag = host === '127.0.0.1' ? '' : `-${host.replace(/\W+/g, '')}`;
  lab.start(`sipp-uas-answer${tag}`, sipp, ['-sn', 'uas', ...common(ports.answer)]);
  lab.start(`sipp-uas-busy${tag}`, sipp, ['-sf', join(lab.dir, 'uas-486.xml'), ...common(ports.busy)]);
  lab.start(`sipp-uas-decline${tag}`, sipp, ['-sf', join(lab.dir, 'uas-603.xml'), ...common(ports.decline)]);
  return ports;
}

export interface KamailioHandle {
  port: number;
  process: LabProcess;
  /** everything Kamailio logged so far */
  output: () => string;
  /**
   * Everything Kamailio logged, once nothing new has come for `quietMs` (at most 10 s): a worker
   * writes the line of a local reply after the reply is on the wire, so a test that reads the
   * lines right after sipp is done can miss the last few.
   */
  settledOutput: (quietMs?: number) => Promise<string>;
}

/**
 * Kamailio 5 as a stateful proxy on `host` that traces or logs as `trace` says. With
 * `syslogSocket`, its log lines (-E, one per line) also go through util-linux logger into that
 * syslog socket, as Kamailio's syslog() would hand them to the host's rsyslog.
 */
export async function startKamailio(
  lab: Lab,
  name: string,
  callees: Callees & Pick<KamailioRoutes, 'hosts' | 'peers' | 'failover'>,
  trace: KamailioTrace,
  syslogSocket?: string,
  host = '127.0.0.1',
): Promise<KamailioHandle> {
  const kamailio = requireProgram('kamailio', 'kamailio');
  const port = await freePort(host);
  const cfg = join(lab.dir, `${name}.cfg`);
  writeFileSync(cfg, kamailioConfig(port, callees, trace, host));
  const check = await runProcess(lab.dir, `${name}-check`, kamailio, ['-c', '-f', cfg], 20_000);
  if (check !== 0) throw new Error(`kamailio rejected ${cfg}; see ${join(lab.dir, `${name}-check.log`)}`);
  const args = ['-f', cfg, '-DD', '-E', '-P', join(lab.dir, `${name}.pid`)];
  let process_: LabProcess;
  if (syslogSocket === undefined) process_ = lab.start(name, kamailio, args);
  else {
    const logger = requireProgram('logger', 'bsdutils');
    // sh keeps the pipe inside one process group of ours; tee keeps a copy for the failure report.
    process_ = lab.start(name, 'sh', [
      '-c',
      `exec ${kamailio} ${args.map((a) => `'${a}'`).join(' ')} 2>&1 | tee -a '${join(lab.dir, `${name}.lines`)}' | ${logger} -u '${syslogSocket}' -t kamailio`,
    ]);
  }
  // Kamailio binds its socket before it forks its workers; what arrives meanwhile waits in the kernel.
  const output =
    syslogSocket === undefined ? () => process_.log() : () => readText(join(lab.dir, `${name}.lines`));
  await waitFor(
    `${name} to bind`,
    () => {
      if (process_.child.exitCode !== null) throw new Error(`${name} exited: ${output().slice(-4000)}`);
      return output().includes('SO_RCVBUF is finally');
    },
    15_000,
  );
  const settledOutput = async (quietMs = 300) => {
    let text = output();
    let quietSince = Date.now();
    const deadline = Date.now() + 10_000;
    while (Date.now() - quietSince < quietMs && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      const now = output();
      if (now.length !== text.length) {
        text = now;
        quietSince = Date.now();
      }
    }
    return text;
  };
  return { port, process: process_, output, settledOutput };
}

/**
 * One sipp caller run to the proxy on `host`, from `from` (the same host unless given); resolves
 * with sipp's exit code (0: every call succeeded).
 */
export async function call(
  lab: Lab,
  name: string,
  proxyPort: number,
  scenario: { builtIn: 'uac' } | { xml: string },
  user: string,
  calls: number,
  host = '127.0.0.1',
  from = host,
  /** more sipp arguments, such as `-d` for the length of an answered call */
  extra: string[] = [],
): Promise<number | null> {
  const sipp = requireProgram('sipp', 'sip-tester');
  const port = await freePort(from);
  let scenarioArgs: string[];
  if ('builtIn' in scenario) scenarioArgs = ['-sn', scenario.builtIn];
  else {
    const file = join(lab.dir, `${name}.xml`);
    writeFileSync(file, scenario.xml);
    scenarioArgs = ['-sf', file];
  }
  return runProcess(
    lab.dir,
    name,
    sipp,
    [
      ...scenarioArgs,
      '-s',
      user,
      `${uriHost(host)}:${proxyPort}`,
      '-i',
      from,
      '-p',
      String(port),
      '-m',
      String(calls),
      '-r',
      '20',
      '-nostdin',
      '-timeout',
      '20',
      '-trace_err',
      ...extra,
    ],
    30_000,
  );
}

/** The calls every lab run makes: one sipp caller per outcome. */
export const CALL_MIX = [
  { name: 'answered', user: 'answer', scenario: { builtIn: 'uac' as const } },
  { name: 'busy', user: 'busy', scenario: { xml: uacFinal(486) } },
  { name: 'declined', user: 'decline', scenario: { xml: uacFinal(603) } },
  { name: 'not-found', user: 'nobody', scenario: { xml: uacFinal(404) } },
  { name: 'overloaded', user: 'overload', scenario: { xml: uacFinal(503) } },
  { name: 'register', user: 'alice', scenario: { xml: UAC_REGISTER } },
];

/** Responses a callee sends and the proxy relays ("METHOD CODE"); the proxy makes the others itself. */
export const RELAYED = new Set(['INVITE 180', 'INVITE 200', 'BYE 200', 'INVITE 486', 'INVITE 603']);

/**
 * Runs the call mix through the proxy on `host`, `calls` calls per outcome, one caller after
 * another, and returns what the callers received by "METHOD CODE", as sipp reports it. Every call
 * must succeed.
 */
export async function runCallMix(
  lab: Lab,
  proxyPort: number,
  calls: number,
  tag: string,
  host = '127.0.0.1',
): Promise<Map<string, number>> {
  const received = new Map<string, number>();
  for (const c of CALL_MIX) {
    const name = `${tag}-uac-${c.name}`;
    const code = await call(lab, name, proxyPort, c.scenario, c.user, calls, host);
    const report = parseSippScreen(readText(join(lab.dir, `${name}.log`)));
    if (code !== 0 || report.successful !== calls) {
      throw new Error(
        `sipp ${name} exited ${code} with ${report.successful} of ${calls} calls successful; see ${join(lab.dir, `${name}.log`)}`,
      );
    }
    for (const [key, n] of report.responsesReceived) received.set(key, (received.get(key) ?? 0) + n);
  }
  return received;
}
