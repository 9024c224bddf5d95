/**
 * The lab by hand: the exporter, Kamailio tracing over HEP and logging acc lines through a
 * private rsyslogd, sipp callers making a steady mix of calls, and Prometheus scraping it all
 * with the project's rules. Prints the URLs and runs until Ctrl-C.
 *
 *   npm run lab [-- --rate 5]
 */
import { parseArgs } from 'node:util';
import { Lab, startCallees, startExporter, startKamailio } from './lab.js';
import { freePort, requireProgram } from './processes.js';
import { startPrometheus } from './prometheus.js';
import { startRsyslogd } from './rsyslog.js';
import { UAC_REGISTER, uacFinal } from './sipp.js';

const USAGE = `usage: npm run lab [-- --rate <calls per second>]

Starts the exporter, Kamailio, rsyslogd, sipp callers and Prometheus on loopback ports
and prints their URLs; Ctrl-C stops them all.

  --rate <n>   answered calls per second, other outcomes in proportion (default 5)
  -h, --help   show this help
`;

function parseCommandLine(): number {
  let values: { rate?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: { rate: { type: 'string', default: '5' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (err) {
    process.stderr.write(`lab: ${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const rate = Number(values.rate);
  if (!Number.isFinite(rate) || rate <= 0) {
    process.stderr.write(
      `lab: --rate must be a positive number, got ${JSON.stringify(values.rate)}\n\n${USAGE}`,
    );
    process.exit(2);
  }
  return rate;
}

const rate = parseCommandLine();

const lab = new Lab();
let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  process.stdout.write('\nstopping the lab...\n');
  await lab.stop();
  process.stdout.write(`logs kept in ${lab.dir}\n`);
  process.exit(0);
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

try {
  const exporter = await startExporter(lab, 'exporter');
  const rsyslog = await startRsyslogd(lab.dir, 'rsyslogd', { port: exporter.syslogPort, protocol: 'udp' });
  lab.adopt(rsyslog.process);
  const callees = await startCallees(lab);
  const kamailio = await startKamailio(
    lab,
    'kamailio',
    callees,
    {
      hep: { port: exporter.hepPort, transport: 'udp', version: 3, captureId: 2001 },
      acc: true,
      xlog: false,
    },
    rsyslog.socket,
  );
  const prometheus = await startPrometheus(lab.dir, [exporter.web]);
  lab.adopt(prometheus.process);

  // A steady mix: mostly answered calls, some busy, declined, refused and challenged.
  const sipp = requireProgram('sipp', 'sip-tester');
  const { writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const mix: Array<[string, string | null, string, number]> = [
    ['answered', null, 'answer', rate],
    ['busy', uacFinal(486), 'busy', rate / 5],
    ['declined', uacFinal(603), 'decline', rate / 10],
    ['not-found', uacFinal(404), 'nobody', rate / 10],
    ['overloaded', uacFinal(503), 'overload', rate / 20],
    ['register', UAC_REGISTER, 'alice', rate / 5],
  ];
  for (const [name, xml, user, cps] of mix) {
    const scenario = xml === null ? ['-sn', 'uac'] : ['-sf', join(lab.dir, `run-${name}.xml`)];
    if (xml !== null) writeFileSync(join(lab.dir, `run-${name}.xml`), xml);
    const port = await freePort();
    lab.start(`caller-${name}`, sipp, [
      ...scenario,
      '-s',
      user,
      `127.0.0.1:${kamailio.port}`,
      '-i',
      '127.0.0.1',
      '-p',
      String(port),
      '-r',
      String(cps),
      '-rp',
      '1000',
      '-nostdin',
      '-trace_err',
    ]);
  }
  process.stdout.write(
    [
      '',
      'The lab is running:',
      `  exporter metrics   http://${exporter.web}/metrics`,
      `  exporter landing   http://${exporter.web}/`,
      `  Prometheus         ${prometheus.url}/graph?g0.expr=sum%20by%20(code)%20(rate(sip_responses_total%5B1m%5D))`,
      `  Kamailio           udp 127.0.0.1:${kamailio.port} (HEPv3 to :${exporter.hepPort}, acc lines via rsyslog to :${exporter.syslogPort})`,
      `  logs               ${lab.dir}`,
      '',
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n${lab.logs()}\n`);
  await lab.stop();
  process.exit(1);
}
