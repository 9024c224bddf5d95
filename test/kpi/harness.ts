import { KeyHasher } from '../../src/count/key-hasher.js';
import {
  ATTEMPT_OUTCOME_LABELS,
  emptyKpiMessage,
  type KpiMessage,
  type KpiPeerSink,
  type KpiSink,
  LEG_DIRECTION_LABELS,
  REASON_PROTOCOL_LABELS,
  REGISTRATION_OUTCOME_LABELS,
  SESSION_CUT_LABELS,
  SRD_RESULT_LABELS,
} from '../../src/kpi/types.js';
import { methodIndexOfString } from '../../src/sip/methods.js';

/** A SIP message as a test writes it: strings, hashed into a KpiMessage as the adapter will. */
export interface Msg {
  node?: number;
  req: boolean;
  method: string;
  status?: number;
  callId: string;
  fromTag: string;
  toTag?: string;
  branch: string;
  cseq: number;
  /** capture time, ms */
  cap: number;
  /** expiry clock, ms */
  now: number;
  expires0?: boolean;
  /** which way the node saw this copy, when known */
  dir?: 'in' | 'out';
  /** stable id of the peer at the other end (per-peer legs); 0 or absent for none */
  peer?: number;
  reason?: [protocol: 1 | 2, cause: number];
}

const hasher = new KeyHasher();
function hash(text: string): [number, number] {
  hasher.begin().string(text).end();
  return [hasher.hi, hasher.lo];
}

export function toKpi(m: Msg, out: KpiMessage = emptyKpiMessage()): KpiMessage {
  out.node = m.node ?? 0;
  out.isRequest = m.req;
  out.method = methodIndexOfString(m.method);
  out.status = m.status ?? 0;
  out.cseq = m.cseq;
  [out.callIdHi, out.callIdLo] = hash(m.callId);
  [out.fromTagHi, out.fromTagLo] = hash(m.fromTag);
  out.hasToTag = m.toTag !== undefined;
  [out.toTagHi, out.toTagLo] = m.toTag === undefined ? [0, 0] : hash(m.toTag);
  [out.branchHi, out.branchLo] = hash(m.branch);
  out.direction = m.dir === 'in' ? 1 : m.dir === 'out' ? 2 : 0;
  out.peer = m.peer ?? 0;
  out.captureMs = m.cap;
  out.now = m.now;
  out.expires0 = m.expires0 ?? false;
  out.reasonProtocol = m.reason?.[0] ?? 0;
  out.reasonCause = m.reason?.[1] ?? 0;
  return out;
}

/** Records every sink call as a readable line; the per-peer ones start with `leg`. */
export class RecordingSink implements KpiSink, KpiPeerSink {
  events: string[] = [];
  onAttemptEnd(node: number, outcome: number): void {
    this.events.push(`attempt ${node} ${ATTEMPT_OUTCOME_LABELS[outcome]}`);
  }
  onSrd(node: number, result: number, seconds: number): void {
    this.events.push(`srd ${node} ${SRD_RESULT_LABELS[result]} ${seconds}`);
  }
  onPdd(node: number, seconds: number): void {
    this.events.push(`pdd ${node} ${seconds}`);
  }
  onRegistrationEnd(node: number, outcome: number): void {
    this.events.push(`register ${node} ${REGISTRATION_OUTCOME_LABELS[outcome]}`);
  }
  onDeregistrationEnd(node: number, outcome: number): void {
    this.events.push(`deregister ${node} ${REGISTRATION_OUTCOME_LABELS[outcome]}`);
  }
  onRrd(node: number, seconds: number): void {
    this.events.push(`rrd ${node} ${seconds}`);
  }
  onSessionStart(node: number): void {
    this.events.push(`session-start ${node}`);
  }
  onSessionEnd(node: number, seconds: number): void {
    this.events.push(`session-end ${node} ${seconds}`);
  }
  onSessionCut(node: number, reason: number): void {
    this.events.push(`session-cut ${node} ${SESSION_CUT_LABELS[reason]}`);
  }
  onReleaseCause(node: number, protocol: number, cause: number): void {
    this.events.push(`cause ${node} ${REASON_PROTOCOL_LABELS[protocol]} ${cause}`);
  }
  onLateFinal(node: number, method: number): void {
    this.events.push(`late ${node} ${method}`);
  }
  onLegEnd(node: number, peer: number, direction: number, outcome: number): void {
    this.events.push(
      `leg ${node} ${peer} ${LEG_DIRECTION_LABELS[direction]} ${ATTEMPT_OUTCOME_LABELS[outcome]}`,
    );
  }
  /** Leg delays come in ms; printed in seconds, as the node's are. */
  onLegSrd(node: number, peer: number, direction: number, result: number, ms: number): void {
    this.events.push(
      `leg-srd ${node} ${peer} ${LEG_DIRECTION_LABELS[direction]} ${SRD_RESULT_LABELS[result]} ${ms / 1000}`,
    );
  }
  onLegPdd(node: number, peer: number, direction: number, ms: number): void {
    this.events.push(`leg-pdd ${node} ${peer} ${LEG_DIRECTION_LABELS[direction]} ${ms / 1000}`);
  }
  take(): string[] {
    const e = this.events;
    this.events = [];
    return e;
  }
}
