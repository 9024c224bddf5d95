import { pino } from 'pino';
import { loadConfig } from '../src/config/load.js';
import { Exporter } from '../src/exporter.js';
import { COUNTER_WIDTH, edgePacket, median, writeCounter } from './packets.js';

/**
 * The in-process figure with call KPIs on against off, on a realistic call mix: INVITE, 100, 180,
 * 200, ACK, BYE and its 200, each traced in and out at a proxy (14 HEP packets a call, responses
 * seen first on the downstream branch, then forwarded upstream). Every call has its own Call-ID,
 * written in place into warm packets as bench/inprocess.ts does.
 */
const CALLS = 140_000;
const WARMUP_CALLS = 20_000;
const RUNS = 5;
export const TEMPLATE = '@callmix.example.com';

function sip(first: string, method: string, cseq: number, branch: string, toTag: boolean): string {
  return [
    first,
    `Via: SIP/2.0/UDP 10.20.30.40:5060;branch=${branch}`,
    'Via: SIP/2.0/UDP 10.20.30.1:5060;branch=z9hG4bKcaller;rport=5060',
    'Max-Forwards: 69',
    'From: "Alice" <sip:alice@example.com>;tag=a73kszlfl',
    `To: <sip:bob@example.com>${toTag ? ';tag=b81kd' : ''}`,
    `Call-ID: ${'0'.repeat(COUNTER_WIDTH)}${TEMPLATE}`,
    `CSeq: ${cseq} ${method}`,
    'Contact: <sip:alice@10.20.30.1:5060>',
    'User-Agent: bench',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/**
 * One call's SIP messages at the proxy in capture order, each as received then as sent; the
 * Call-ID is COUNTER_WIDTH zeros before TEMPLATE.
 */
export function callMessages(): string[] {
  const req = (m: string, cseq: number, toTag: boolean, b: string) =>
    sip(`${m} sip:bob@example.com SIP/2.0`, m, cseq, b, toTag);
  const res = (code: string, m: string, cseq: number, b: string) =>
    sip(`SIP/2.0 ${code}`, m, cseq, b, code !== '100 Trying');
  const pairs: Array<[string, string]> = [
    [req('INVITE', 1, false, 'z9hG4bKup'), req('INVITE', 1, false, 'z9hG4bKdown')],
    [res('100 Trying', 'INVITE', 1, 'z9hG4bKdown'), res('100 Trying', 'INVITE', 1, 'z9hG4bKup')],
    [res('180 Ringing', 'INVITE', 1, 'z9hG4bKdown'), res('180 Ringing', 'INVITE', 1, 'z9hG4bKup')],
    [res('200 OK', 'INVITE', 1, 'z9hG4bKdown'), res('200 OK', 'INVITE', 1, 'z9hG4bKup')],
    [req('ACK', 1, true, 'z9hG4bKack1'), req('ACK', 1, true, 'z9hG4bKack2')],
    [req('BYE', 2, true, 'z9hG4bKbye1'), req('BYE', 2, true, 'z9hG4bKbye2')],
    [res('200 OK', 'BYE', 2, 'z9hG4bKbye2'), res('200 OK', 'BYE', 2, 'z9hG4bKbye1')],
  ];
  return pairs.flat();
}

/** One call as the capture agent sends it: each message as received, then as sent. */
export function callPackets(): Buffer[] {
  return callMessages().map((payload, i) =>
    edgePacket(payload, 1_795_600_000 + (i >= 10 ? 90 : 0), i * 20_000),
  );
}

export interface CallMixResult {
  /** messages per second with --kpi.enabled=false and with KPIs on */
  off: number;
  on: number;
  ratio: number;
}

async function rate(kpi: boolean): Promise<number> {
  const packets = callPackets();
  const offsets = packets.map((p) => p.indexOf(TEMPLATE) - COUNTER_WIDTH);
  const config = loadConfig({
    flags: { 'hep.listen-address': '', 'log.level': 'silent', 'kpi.enabled': String(kpi) },
  });
  const exporter = new Exporter(config, pino({ level: 'silent' }));
  const ingest = exporter.source('hep').ingest;
  let call = 0;
  const measure = (calls: number) => {
    const started = process.hrtime.bigint();
    for (let c = 0; c < calls; c++, call++) {
      // 10,000 calls a second on the expiry clock: 0.1 ms a call.
      const now = call / 10;
      for (let i = 0; i < packets.length; i++) {
        const p = packets[i];
        writeCounter(p, offsets[i], call);
        ingest.handle(p, 0, p.length, '10.0.0.1', now);
      }
    }
    return Number(process.hrtime.bigint() - started) / 1e9;
  };
  measure(WARMUP_CALLS);
  const rates: number[] = [];
  for (let run = 0; run < RUNS; run++) rates.push(((CALLS / RUNS) * packets.length) / measure(CALLS / RUNS));
  if (kpi) {
    // Every call is one answered attempt, or the figure measured something else.
    const text = await exporter.registry.getSingleMetricAsString('sip_session_attempts_total');
    const answered = /outcome="answered"} (\d+)/.exec(text)?.[1];
    if (Number(answered) !== call) throw new Error(`answered ${answered} of ${call} calls`);
  }
  return median(rates);
}

export async function runCallMix(): Promise<CallMixResult> {
  const off = await rate(false);
  const on = await rate(true);
  return { off, on, ratio: on / off };
}
