/**
 * Call-state engine throughput: messages per second through KpiEngine alone (no parsing, no
 * metrics), for a realistic call mix at a proxy that traces every message in and out:
 * INVITE, 100, 180, 200, ACK, BYE and its 200, each seen twice (13 messages a call; the 100
 * only upstream). Calls start at 10,000 per second of simulated time, ring 2 s and hold 60,
 * 90, 120 or 180 s, so the tables hold what they would at that rate; the expiry clock follows
 * simulated time, so sweeps and timeouts run as they would. The heap is sampled as it goes.
 *
 *   npx tsx bench/kpi.ts [calls] [legs]
 *
 * With `legs`, every copy carries its direction and a peer (a customer upstream, one of 16
 * carriers downstream), so the per-peer legs are followed too (docs/kpis.md, per peer).
 *
 * The machine may be shared: run it once, not in a loop.
 */
import { KpiEngine } from '../src/kpi/engine.js';
import {
  DIRECTION_RECEIVED,
  DIRECTION_SENT,
  emptyKpiMessage,
  type KpiPeerSink,
  type KpiSink,
} from '../src/kpi/types.js';
import { METHOD_LABELS } from '../src/sip/methods.js';
import { applyV8Flags } from '../src/v8-flags.js';

// As the CLI runs the exporter (src/v8-flags.ts).
applyV8Flags();

const CALLS = Number(process.argv[2] ?? 2_400_000);
const LEGS = process.argv[3] === 'legs';
const CALLS_PER_MS = 10;
const HOLD_S = [60, 90, 120, 180];
const NODES = 4;
const INVITE = METHOD_LABELS.indexOf('INVITE');
const ACK = METHOD_LABELS.indexOf('ACK');
const BYE = METHOD_LABELS.indexOf('BYE');
const BASE = 1_795_000_000_000;

const counts = {
  outcomes: new Float64Array(9),
  srd: 0,
  pdd: 0,
  started: 0,
  ended: 0,
  cut: 0,
  legs: 0,
  legSrd: 0,
};
/** Counts only, as a metrics layer with resolved cells would. */
const sink: KpiSink = {
  onAttemptEnd: (_n, o) => {
    counts.outcomes[o]++;
  },
  onSrd: () => {
    counts.srd++;
  },
  onPdd: () => {
    counts.pdd++;
  },
  onRegistrationEnd: () => {},
  onDeregistrationEnd: () => {},
  onRrd: () => {},
  onSessionStart: () => {
    counts.started++;
  },
  onSessionEnd: () => {
    counts.ended++;
  },
  onSessionCut: () => {
    counts.cut++;
  },
  onReleaseCause: () => {},
  onLateFinal: () => {},
};

const peerSink: KpiPeerSink = {
  onLegEnd: () => {
    counts.legs++;
  },
  onLegSrd: () => {
    counts.legSrd++;
  },
  onLegPdd: () => {},
};

const engine = new KpiEngine(sink, { now: 0 }, LEGS ? peerSink : null);
const m = emptyKpiMessage();

function mix(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** The hashes of call n, as the caller would have computed them once per message. */
function identify(n: number): void {
  m.node = n % NODES;
  m.callIdHi = mix(n * 4 + 1);
  m.callIdLo = mix(n * 4 + 2);
  m.fromTagHi = mix(n * 4 + 3);
  m.fromTagLo = mix(n * 4 + 4);
  carrier = 2 + (n & 15);
}
let carrier = 2;

/** Which way the node saw a copy, and who is at the other end: with `legs` only. */
function side(received: boolean, upstream: boolean): void {
  if (!LEGS) return;
  m.direction = received ? DIRECTION_RECEIVED : DIRECTION_SENT;
  m.peer = upstream ? 1 : carrier;
}

function send(
  isRequest: boolean,
  method: number,
  status: number,
  cseq: number,
  branch: number,
  toTag: boolean,
  capMs: number,
  now: number,
): void {
  m.isRequest = isRequest;
  m.method = method;
  m.status = status;
  m.cseq = cseq;
  m.branchHi = branch;
  m.branchLo = ~branch >>> 0;
  m.hasToTag = toTag;
  m.toTagHi = toTag ? 0x1234 : 0;
  m.toTagLo = toTag ? 0x5678 : 0;
  m.captureMs = capMs;
  m.now = now;
  engine.handle(m);
}

function setup(n: number, now: number): void {
  identify(n);
  const up = mix(n * 8 + 5);
  const down = mix(n * 8 + 6);
  const t = BASE + now;
  side(true, true);
  send(true, INVITE, 0, 1, up, false, t, now);
  side(false, false);
  send(true, INVITE, 0, 1, down, false, t + 1, now);
  side(false, true);
  send(false, INVITE, 100, 1, up, false, t + 2, now);
  side(true, false);
  send(false, INVITE, 180, 1, down, true, t + 300, now);
  side(false, true);
  send(false, INVITE, 180, 1, up, true, t + 301, now);
  side(true, false);
  send(false, INVITE, 200, 1, down, true, t + 2000, now);
  side(false, true);
  send(false, INVITE, 200, 1, up, true, t + 2001, now);
  send(true, ACK, 0, 1, mix(n * 8 + 7), true, t + 2010, now);
  send(true, ACK, 0, 1, mix(n * 8 + 8), true, t + 2011, now);
}

function teardown(n: number, now: number): void {
  identify(n);
  const t = BASE + now;
  const up = mix(n * 8 + 9);
  const down = mix(n * 8 + 10);
  send(true, BYE, 0, 2, up, true, t, now);
  send(true, BYE, 0, 2, down, true, t + 1, now);
  send(false, BYE, 200, 2, down, true, t + 5, now);
  send(false, BYE, 200, 2, up, true, t + 6, now);
}

const lags = HOLD_S.map((s) => s * 1000 * CALLS_PER_MS);
const heapSamples: string[] = [];
let messages = 0;
const start = performance.now();
for (let c = 0; c < CALLS; c++) {
  const now = c / CALLS_PER_MS;
  setup(c, now);
  messages += 9;
  // Call n holds HOLD_S[n % 4]: its BYE comes when call n + lag starts.
  for (let k = 0; k < 4; k++) {
    const n = c - lags[k];
    if (n >= 0 && n % 4 === k) {
      teardown(n, now);
      messages += 4;
    }
  }
  if (c % 300_000 === 0 && c > 0) {
    heapSamples.push(
      `${Math.round(now / 1000)}s:${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(1)}MiB`,
    );
  }
}
const seconds = (performance.now() - start) / 1000;
const s = engine.stats;
console.log(
  `calls ${CALLS} (${(CALLS / CALLS_PER_MS / 1000).toFixed(0)} s simulated at 10,000/s), messages ${messages}`,
);
console.log(
  `KPI engine: ${Math.round(messages / seconds).toLocaleString('en')} messages/s (${seconds.toFixed(1)} s)`,
);
console.log(
  `tables ${(engine.memoryBytes / 2 ** 20).toFixed(0)} MiB; heap used over time ${heapSamples.join(' ')}`,
);
console.log(`rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);
console.log(
  `answered ${counts.outcomes[0]}, srd ${counts.srd}, pdd ${counts.pdd}, sessions started ${counts.started} ended ${counts.ended} cut ${counts.cut}, active ${s.activeSessions}`,
);
console.log(
  `evictions attempts ${s.attemptEvictions} linger ${s.lingerEvictions} dialogs ${s.dialogEvictions}; unmatched BYE copies ${s.unmatchedByes}`,
);
if (LEGS)
  console.log(
    `legs ended ${counts.legs}, leg SRD ${counts.legSrd}; evictions legs ${s.legEvictions} leg linger ${s.legLingerEvictions}`,
  );
