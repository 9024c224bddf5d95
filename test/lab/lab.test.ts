import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { asGrafanaSends, shippedExpressions } from '../../generate/expressions.js';
import { ruleGroups } from '../../generate/rules.js';
import {
  type Callees,
  call,
  type ExporterHandle,
  Lab,
  RELAYED,
  runCallMix,
  startCallees,
  startExporter,
  startKamailio,
} from '../../lab/lab.js';
import { requireProgram, waitFor } from '../../lab/processes.js';
import { ruleFiles, startPrometheus } from '../../lab/prometheus.js';
import { startRsyslogd } from '../../lab/rsyslog.js';
import { type CaptureStats, startCapture } from '../../lab/tcpdump.js';
import { loadConfig } from '../../src/config/load.js';
import { OK } from '../../src/errors.js';
import { decodeHep, HepPacket } from '../../src/ingest/hep/decode.js';
import { type ReplaySummary, summarize } from '../../src/replay/output.js';
import { replayFiles } from '../../src/replay/replay.js';
import { SipMessageScan, scanSipMessage } from '../../src/sip/scan.js';
import { reasonPhrase, statusClass } from '../../src/sip/status-codes.js';
import { tsharkSipStat } from '../capture/peers.js';
import { CLI } from '../helpers/cli.js';
import { samples, sampleValue } from '../helpers/exporter.js';

/** Calls per outcome in each run. */
const CALLS = 5;
const LAB_TIMEOUT = 120_000;
const root = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

const lab = new Lab();
let callees: Callees;

beforeAll(async () => {
  callees = await startCallees(lab);
}, LAB_TIMEOUT);

afterAll(async () => {
  await lab.stop();
});

afterEach((context) => {
  // Keep the peers' logs where a failing run can be read.
  if (context.task.result?.state === 'fail')
    process.stderr.write(`lab directory ${lab.dir}\n${lab.logs()}\n`);
});

/** sip_responses_total as the exporter would label `counts` ("METHOD CODE" -> n) for `node`. */
function series(
  counts: Map<string, number>,
  node: string,
  times: (key: string) => number = () => 1,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, n] of counts) {
    const [method, codeText] = key.split(' ');
    const code = Number(codeText);
    const labels = `{code="${code}",class="${statusClass(code)}",reason="${reasonPhrase(code)}",method="${method}",node="${node}"}`;
    out[labels] = n * times(key);
  }
  return out;
}

/** Responses the proxy relayed: each was traced twice, in and out. */
function relayedCount(received: Map<string, number>): number {
  return [...received].filter(([k]) => RELAYED.has(k)).reduce((sum, [, n]) => sum + n, 0);
}

/** HEP parse errors of every reason. */
function parseErrors(text: string): number {
  return Object.entries(samples(text, 'sip_exporter_parse_errors_total'))
    .filter(([labels]) => labels.includes('listener="hep"'))
    .reduce((sum, [, n]) => sum + n, 0);
}

/**
 * Waits until the exporter has read everything: the packet count has not moved across two looks
 * 400 ms apart each (one quiet look could be a stall of the exporter, or of Kamailio, on a loaded
 * machine).
 */
async function settled(exporter: ExporterHandle, listener: 'hep' | 'syslog'): Promise<string> {
  let last = -1;
  let still = 0;
  let text = '';
  await waitFor(
    `${listener} traffic to settle`,
    async () => {
      text = await exporter.metrics();
      const now = ['udp', 'tcp'].reduce(
        (sum, t) =>
          sum +
          (sampleValue(
            text,
            `sip_exporter_packets_received_total{listener="${listener}",transport="${t}"}`,
          ) ?? 0),
        0,
      );
      still = now > 0 && now === last ? still + 1 : 0;
      const done = still >= 2;
      last = now;
      if (!done) await new Promise((r) => setTimeout(r, 400));
      return done;
    },
    30_000,
  );
  return text;
}

/** Where a run's proxy, callees, callers and HEP collector live, when not on 127.0.0.1. */
interface RunHost {
  host: string;
  callees: Callees;
}

async function hepRun(
  name: string,
  hep: { transport: 'udp' | 'tcp'; version: 1 | 2 | 3; captureId: number },
  flags: string[] = [],
  beforeCalls: (exporter: ExporterHandle) => Promise<void> = async () => undefined,
  passes = 1,
  on?: RunHost,
  /** a pcap file to record the run's SIP and HEP on loopback into, with tcpdump */
  record?: string,
) {
  const exporter = await startExporter(lab, `${name}-exporter`, flags, { hepHost: on?.host });
  await beforeCalls(exporter);
  const kamailio = await startKamailio(
    lab,
    `${name}-kamailio`,
    on?.callees ?? callees,
    { hep: { port: exporter.hepPort, ...hep }, acc: false, xlog: false },
    undefined,
    on?.host,
  );
  // Every SIP message of the run goes to or from the proxy; every HEP packet to the exporter.
  const capture =
    record === undefined
      ? undefined
      : await startCapture(
          lab,
          `${name}-tcpdump`,
          record,
          `udp port ${kamailio.port} or udp port ${exporter.hepPort}`,
        );
  const received = new Map<string, number>();
  for (let pass = 1; pass <= passes; pass++) {
    // A series is born at its first count; Prometheus sees a rate only from its second sample on,
    // so a later pass gives every series an increase between scrapes.
    if (pass > 1) await new Promise((r) => setTimeout(r, 2500));
    for (const [key, n] of await runCallMix(lab, kamailio.port, CALLS, `${name}-${pass}`, on?.host)) {
      received.set(key, (received.get(key) ?? 0) + n);
    }
  }
  const text = await settled(exporter, 'hep');
  const captured = await capture?.stop();
  await kamailio.process.stop();
  return { exporter, received, text, proxyPort: kamailio.port, captured };
}

/** The HEPv3 over UDP run as tcpdump recorded it, for the capture truth test. */
let recorded:
  | { file: string; proxyPort: number; hepPort: number; text: string; stats: CaptureStats }
  | undefined;

describe('lab: Kamailio traces over HEP, sipp makes the calls', () => {
  let prometheus: Awaited<ReturnType<typeof startPrometheus>> | null = null;

  it(
    'HEPv3 over UDP: every response counted once per node, as sipp saw it; Prometheus reads the same',
    async () => {
      // One peer for every loopback address and no self_addresses, so that the peer panels and
      // rules have data too: every traced copy then counts for the peer at both ends.
      const peers = join(lab.dir, 'hep3-udp-peers.yml');
      writeFileSync(peers, 'peers:\n  - name: lab\n    addresses: ["127.0.0.0/8"]\n');
      const file = join(lab.dir, 'hep3-udp.pcap');
      const { exporter, received, text, proxyPort, captured } = await hepRun(
        'hep3-udp',
        { transport: 'udp', version: 3, captureId: 2001 },
        ['--config.file', peers],
        async (e) => {
          // Prometheus scrapes while the calls are made, so that rates and ratios have data.
          const p = await startPrometheus(lab.dir, [e.web]);
          prometheus = p;
          lab.adopt(p.process);
          await waitFor('the first scrape', async () => (await p.query('up')).length === 1, 30_000);
        },
        2,
        undefined,
        file,
      );
      if (captured !== undefined)
        recorded = { file, proxyPort, hepPort: exporter.hepPort, text, stats: captured };
      // The mix sipp reports, so a change in Kamailio or sipp shows here first.
      const calls = 2 * CALLS; // two passes
      expect(Object.fromEntries(received)).toEqual({
        'INVITE 100': 3 * calls,
        'INVITE 180': calls,
        'INVITE 200': calls,
        'BYE 200': calls,
        'INVITE 486': calls,
        'INVITE 603': calls,
        'INVITE 404': calls,
        'INVITE 503': calls,
        'REGISTER 401': calls,
      });
      expect(samples(text, 'sip_responses_total')).toEqual(series(received, '2001'));
      // Kamailio traced each relayed response twice (in and out): the second copy is a dedupe hit.
      const relayed = [...received].filter(([k]) => RELAYED.has(k)).reduce((sum, [, n]) => sum + n, 0);
      expect(sampleValue(text, 'sip_exporter_dedupe_hits_total{kind="response"}')).toBe(relayed);
      expect(
        sampleValue(text, 'sip_exporter_parse_errors_total{listener="hep",reason="hep_bad_chunk"}'),
      ).toBe(0);

      if (prometheus === null) throw new Error('prometheus did not start');
      const expected = samples(text, 'sip_responses_total');
      const fromPrometheus = async () => {
        const out: Record<string, number> = {};
        for (const { metric: m, value } of await prometheus!.query('sip_responses_total')) {
          out[
            `{code="${m.code}",class="${m.class}",reason="${m.reason}",method="${m.method}",node="${m.node}"}`
          ] = Number(value[1]);
        }
        return out;
      };
      // Prometheus's API gives the same values once it has scraped after the last call.
      await waitFor(
        'Prometheus to scrape the final counts',
        async () => {
          const got = await fromPrometheus();
          return (
            Object.keys(expected).every((k) => got[k] === expected[k]) &&
            Object.keys(got).length === Object.keys(expected).length
          );
        },
        30_000,
      ).catch(() => undefined);
      expect(await fromPrometheus()).toEqual(expected);
      const targets = await prometheus!.api<{ activeTargets: Array<{ health: string; lastError: string }> }>(
        '/api/v1/targets',
      );
      expect(targets.activeTargets.map((t) => [t.health, t.lastError])).toEqual([['up', '']]);
      // Every rule the project ships is loaded and evaluates without error.
      type Rules = {
        groups: Array<{ file: string; rules: Array<{ name: string; health: string; lastError?: string }> }>;
      };
      let rules: Rules = { groups: [] };
      await waitFor(
        'every rule to be evaluated',
        async () => {
          rules = await prometheus!.api<Rules>('/api/v1/rules');
          const all = rules.groups.flatMap((g) => g.rules);
          return all.length > 0 && all.every((r) => r.health !== 'unknown');
        },
        30_000,
      );
      expect(new Set(rules.groups.map((g) => g.file))).toEqual(new Set(ruleFiles()));
      expect(rules.groups.flatMap((g) => g.rules).length).toBe(ruleGroups().flatMap((g) => g.rules).length);
      for (const rule of rules.groups.flatMap((g) => g.rules)) {
        expect([rule.name, rule.health, rule.lastError ?? '']).toEqual([rule.name, 'ok', '']);
      }

      // Every PromQL expression of the rules and dashboards parses and evaluates on live data,
      // and every dashboard query shows data (but the parse error panel, empty while there are none).
      // rate() needs two samples in its window: let a few scrapes land first.
      await waitFor(
        'three scrapes',
        async () =>
          Number(
            (await prometheus!.query('count_over_time(sip_exporter_build_info[1m])'))[0]?.value[1] ?? 0,
          ) >= 3,
        30_000,
      );
      const empty: string[] = [];
      for (const { where, expr } of shippedExpressions()) {
        const result = await prometheus!.query(asGrafanaSends(expr));
        const isRule = !where.includes(' / ');
        // Empty while nothing is wrong: no parse errors; the lab sends no OPTIONS keepalives and
        // no Reason headers.
        // The per-peer call KPIs need nodes.self_addresses to tell a sent leg from a received one,
        // which a lab on one loopback address cannot give; test/lab/peers.test.ts checks them.
        const quiet =
          (where.startsWith('Call KPIs / ') && /by peer|selected peers/.test(where)) ||
          where.endsWith('/ Parse errors') ||
          where.endsWith('/ OPTIONS answers by peer') ||
          where.endsWith('/ Top release causes');
        if (!isRule && result.length === 0 && !quiet) empty.push(where);
      }
      expect(empty).toEqual([]);
      // The recording rules behind the alerts have values for the node.
      for (const record of [
        'sip_node:responses_final:rate5m',
        'sip_node:invite_answer_seizure:ratio5m',
        'sip_node:responses_5xx:ratio5m',
        'sip_node:session_asr:ratio5m',
        'sip_node:session_isa:ratio5m',
      ]) {
        await waitFor(
          `${record} to have a value`,
          async () => (await prometheus!.query(`${record}{node="2001"}`)).length === 1,
          15_000,
        );
      }
      await exporter.process.stop();
    },
    LAB_TIMEOUT,
  );

  it(
    'the loopback capture of that run: its raw SIP and its HEP, replayed, count as the live exporter did, and as tshark does',
    async () => {
      if (recorded === undefined) throw new Error('the HEPv3 over UDP run did not record its capture');
      const { file, proxyPort, hepPort, text, stats } = recorded;
      const tcpdump = requireProgram('tcpdump', 'tcpdump');
      const tshark = requireProgram('tshark', 'tshark');
      // tcpdump lost nothing: every packet its filter matched is in the file.
      expect(stats.droppedByKernel).toBe(0);
      expect(stats.captured).toBeGreaterThan(0);
      // The raw SIP and the HEP apart, each in a file of its own.
      const sipFile = join(lab.dir, 'hep3-udp-sip.pcap');
      const hepFile = join(lab.dir, 'hep3-udp-hep.pcap');
      for (const [out, filter] of [
        // Kamailio sends its HEP from its SIP socket: those packets are the HEP file's.
        [sipFile, `udp port ${proxyPort} and not udp port ${hepPort}`],
        [hepFile, `udp port ${hepPort}`],
      ]) {
        execFileSync(tcpdump, ['-n', '-r', file, '-w', out, filter], { stdio: 'ignore' });
      }
      // The command itself for the whole file; the same code in-process for its two parts.
      const replayCommand = (files: string[]) =>
        JSON.parse(
          execFileSync(
            process.execPath,
            [
              ...CLI,
              'replay',
              '--output',
              'json',
              '--replay.node',
              'lab',
              '--replay.hep-ports',
              String(hepPort),
              ...files,
            ],
            { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26 },
          ),
        ) as ReplaySummary;
      const replay = async (files: string[], flags: Record<string, string> = {}) =>
        summarize(
          await replayFiles(files, {
            config: loadConfig({ flags, env: {} }),
            node: 'lab',
            hepPorts: [hepPort],
          }),
        );
      /** The replay's responses of `node` as the live exporter's series of node 2001. */
      const asLive = (summary: ReplaySummary, node: string) =>
        Object.fromEntries(
          summary.responses
            .filter((r) => r.node === node)
            .map((r) => [
              `{code="${r.code}",class="${r.class}",reason="${r.reason}",method="${r.method}",node="2001"}`,
              r.count,
            ]),
        );
      const live = samples(text, 'sip_responses_total');
      expect(Object.keys(live).length).toBeGreaterThan(5);

      // The whole file: the raw SIP as one node, dedupe on, is what the proxy traced in and out
      // (each relayed message is on the wire twice, as in the trace); its HEP is the live run.
      const whole = replayCommand([file]);
      expect(whole.totals.records).toBe(stats.captured);
      expect(whole.totals.captureDrops).toBe(0);
      expect(whole.totals.parseErrors).toBe(0);
      expect(asLive(whole, 'lab')).toEqual(live);
      expect(asLive(whole, '2001')).toEqual(live);
      expect(new Set(whole.responses.map((r) => r.node))).toEqual(new Set(['lab', '2001']));

      // Only the HEP packets: the live run's counts.
      const hepOnly = await replay([hepFile]);
      expect(asLive(hepOnly, '2001')).toEqual(live);
      expect(hepOnly.responses.every((r) => r.node === '2001')).toBe(true);

      // Only the raw SIP, dedupe off: every copy on the wire, as tshark counts them per code.
      const raw = await replay([sipFile], { 'dedupe.window': '0' });
      expect(raw.totals.records + hepOnly.totals.records).toBe(stats.captured);
      const perCode: Record<string, number> = {};
      expect(new Set(raw.responses.map((r) => r.node))).toEqual(new Set(['lab']));
      for (const r of raw.responses) perCode[r.code] = (perCode[r.code] ?? 0) + r.count;
      const fromTshark = tsharkSipStat(tshark, sipFile, ['-d', `udp.port==${proxyPort},sip`]);
      expect(perCode).toEqual(fromTshark.byCode);
      const perMethod: Record<string, number> = {};
      for (const r of raw.requests) perMethod[r.method] = (perMethod[r.method] ?? 0) + r.count;
      expect(perMethod).toEqual(fromTshark.byMethod);
      expect(raw.totals.responses + raw.totals.requests).toBe(fromTshark.messages);
    },
    LAB_TIMEOUT,
  );

  it(
    'HEPv3 over TCP',
    async () => {
      const { exporter, received, text } = await hepRun('hep3-tcp', {
        transport: 'tcp',
        version: 3,
        captureId: 2002,
      });
      expect(samples(text, 'sip_responses_total')).toEqual(series(received, '2002'));
      expect(sampleValue(text, 'sip_exporter_packets_received_total{listener="hep",transport="udp"}')).toBe(
        0,
      );
      expect(
        sampleValue(text, 'sip_exporter_tcp_connections_total{listener="hep",result="accepted"}'),
      ).toBeGreaterThan(0);
      await exporter.process.stop();
    },
    LAB_TIMEOUT,
  );

  it(
    'HEPv2 over UDP',
    async () => {
      const { exporter, received, text } = await hepRun('hep2-udp', {
        transport: 'udp',
        version: 2,
        captureId: 2003,
      });
      expect(samples(text, 'sip_responses_total')).toEqual(series(received, '2003'));
      await exporter.process.stop();
    },
    LAB_TIMEOUT,
  );

  it(
    'HEPv1 over UDP: no capture ID, so the node is the address Kamailio sent from',
    async () => {
      const { exporter, received, text } = await hepRun('hep1-udp', {
        transport: 'udp',
        version: 1,
        captureId: 2007,
      });
      expect(samples(text, 'sip_responses_total')).toEqual(series(received, '127.0.0.1'));
      expect(sampleValue(text, 'sip_exporter_dedupe_hits_total{kind="response"}')).toBe(
        relayedCount(received),
      );
      expect(parseErrors(text)).toBe(0);
      await exporter.process.stop();
    },
    LAB_TIMEOUT,
  );

  it(
    'HEPv3 over IPv6 loopback: proxy, callees, callers and exporter on ::1',
    async () => {
      const on = { host: '::1', callees: await startCallees(lab, '::1') };
      const { exporter, received, text } = await hepRun(
        'hep3-ipv6',
        { transport: 'udp', version: 3, captureId: 2005 },
        [],
        async () => undefined,
        1,
        on,
      );
      expect(Object.fromEntries(received)).toEqual({
        'INVITE 100': 3 * CALLS,
        'INVITE 180': CALLS,
        'INVITE 200': CALLS,
        'BYE 200': CALLS,
        'INVITE 486': CALLS,
        'INVITE 603': CALLS,
        'INVITE 404': CALLS,
        'INVITE 503': CALLS,
        'REGISTER 401': CALLS,
      });
      expect(samples(text, 'sip_responses_total')).toEqual(series(received, '2005'));
      expect(sampleValue(text, 'sip_exporter_dedupe_hits_total{kind="response"}')).toBe(
        relayedCount(received),
      );
      expect(parseErrors(text)).toBe(0);
      await exporter.process.stop();

      // The counters show no addresses: read Kamailio's packets directly, in every HEP version,
      // and decode them as the exporter does.
      for (const version of [1, 2, 3] as const) {
        const tap = createSocket('udp6');
        const packets: Buffer[] = [];
        tap.on('message', (m) => packets.push(m));
        await new Promise<void>((resolve) => tap.bind(0, '::1', () => resolve()));
        const kamailio = await startKamailio(
          lab,
          `hep${version}-ipv6-tap-kamailio`,
          on.callees,
          {
            hep: { port: tap.address().port, transport: 'udp', version, captureId: 2006 },
            acc: false,
            xlog: false,
          },
          undefined,
          on.host,
        );
        expect(
          await call(
            lab,
            `hep${version}-ipv6-tap-uac`,
            kamailio.port,
            { builtIn: 'uac' },
            'answer',
            1,
            on.host,
          ),
        ).toBe(0);
        // INVITE, 100, 180, 200, ACK and BYE, 200 on both legs, each traced once.
        await waitFor(`HEPv${version} packets on the tap`, () => packets.length >= 13, 10_000);
        await kamailio.process.stop();
        await new Promise<void>((resolve) => tap.close(() => resolve()));
        const packet = new HepPacket();
        const scan = new SipMessageScan();
        const loopback = Buffer.from([...Buffer.alloc(15), 1]);
        for (const buf of packets) {
          expect(decodeHep(buf, 0, buf.length, packet)).toBe(OK);
          expect({
            version: packet.version,
            ipFamily: packet.ipFamily,
            source: buf.subarray(packet.sourceAddressStart, packet.sourceAddressEnd),
            destination: buf.subarray(packet.destinationAddressStart, packet.destinationAddressEnd),
            viaProxy: packet.sourcePort === kamailio.port || packet.destinationPort === kamailio.port,
            captureId: packet.captureId,
            sip: scanSipMessage(buf, packet.payloadStart, packet.payloadEnd, scan),
          }).toEqual({
            version,
            ipFamily: 10,
            source: loopback,
            destination: loopback,
            viaProxy: true,
            captureId: version === 1 ? -1 : 2006,
            sip: OK,
          });
        }
      }
    },
    LAB_TIMEOUT,
  );

  it(
    "with dedupe off, relayed responses count exactly twice and the proxy's own once",
    async () => {
      const { exporter, received, text } = await hepRun(
        'hep3-raw',
        { transport: 'udp', version: 3, captureId: 2004 },
        ['--dedupe.window', '0'],
      );
      expect(samples(text, 'sip_responses_total')).toEqual(
        series(received, '2004', (key) => (RELAYED.has(key) ? 2 : 1)),
      );
      await exporter.process.stop();
    },
    LAB_TIMEOUT,
  );
});

/** Counts by "METHOD CODE" from Kamailio's own log lines, read here independently of the extractors. */
function implied(
  lines: string,
  pattern: RegExp,
  key: (m: RegExpExecArray) => { method: string; code: string; unique?: string },
) {
  const counts = new Map<string, number>();
  const seen = new Set<string>();
  for (const line of lines.split('\n')) {
    const m = pattern.exec(line);
    if (m === null) continue;
    const k = key(m);
    if (k.unique !== undefined) {
      if (seen.has(k.unique)) continue;
      seen.add(k.unique);
    }
    const name = `${k.method} ${k.code}`;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

const ACC_LINE = /ACC: (?:transaction answered|call missed): .*?method=([^;]*);.*?code=(\d{3});/;
const XLOG_LINE = /sip_response code=(\d{3}) method=(\S+) cseq=(\S+) callid=(\S+) totag=(\S+)/;

describe('lab: Kamailio logs through rsyslog', () => {
  const node = hostname().split('.')[0];

  for (const [name, trace, protocol] of [
    ['acc over UDP', { acc: true, xlog: false }, 'udp'],
    ['acc over TCP with octet counting', { acc: true, xlog: false }, 'tcp'],
    ['xlog over UDP', { acc: false, xlog: true }, 'udp'],
  ] as const) {
    it(
      `${name}: the counts the log lines imply`,
      async () => {
        const tag = name.replace(/\W+/g, '-');
        const exporter = await startExporter(lab, `${tag}-exporter`);
        const rsyslog = await startRsyslogd(lab.dir, `${tag}-rsyslogd`, {
          port: exporter.syslogPort,
          protocol,
        });
        lab.adopt(rsyslog.process);
        const kamailio = await startKamailio(lab, `${tag}-kamailio`, callees, trace, rsyslog.socket);
        const received = await runCallMix(lab, kamailio.port, CALLS, tag);
        const fromLog = () =>
          trace.acc
            ? implied(kamailio.output(), ACC_LINE, (m) => ({ method: m[1], code: m[2] }))
            : implied(kamailio.output(), XLOG_LINE, (m) => ({
                method: m[2],
                code: m[1],
                unique: `${m[4]} ${m[3]} ${m[2]} ${m[1]} ${m[5]}`,
              }));
        // The log lines cover what sipp saw: acc the stateful transactions, xlog every response but
        // tm's automatic 100 Trying, which Kamailio 5.6 shows tm:local-response only once.
        const covered = trace.acc
          ? ['INVITE 200', 'BYE 200', 'INVITE 486', 'INVITE 603']
          : [...received.keys()].filter((k) => k !== 'INVITE 100');
        // A Kamailio worker may write its line for a reply after sipp has the reply, so the last
        // lines can reach the pipe a moment after sipp exits: wait for them, then compare.
        let expected = fromLog();
        await waitFor(
          'Kamailio to log every response sipp saw',
          () => {
            expected = fromLog();
            return covered.every((key) => expected.get(key) === received.get(key));
          },
          10_000,
        ).catch(() => undefined);
        for (const key of covered) {
          expect([key, expected.get(key)]).toEqual([key, received.get(key)]);
        }
        const total = [...expected.values()].reduce((a, b) => a + b, 0);
        await waitFor(
          'the log lines to reach the exporter',
          async () =>
            Object.values(samples(await exporter.metrics(), 'sip_responses_total')).reduce(
              (a, b) => a + b,
              0,
            ) >= total,
          30_000,
        );
        const text = await settled(exporter, 'syslog');
        expect(samples(text, 'sip_responses_total')).toEqual(series(expected, node));
        expect(rsyslog.received()).toContain(trace.acc ? 'ACC: transaction answered' : 'sip_response code=');
        await kamailio.process.stop();
        await rsyslog.process.stop();
        await exporter.process.stop();
      },
      LAB_TIMEOUT,
    );
  }
});
