import { KPI_DEFAULTS } from '../../src/kpi/engine.js';
import type { Msg } from './harness.js';

/**
 * The reference: the same rules as KpiEngine written plainly over Maps of strings, with
 * unbounded memory and no hashing. With tables large enough never to evict, both must report
 * the same events.
 */
type State = 'open' | 'challenged' | 'ended' | 'timedout';
interface Attempt {
  register: boolean;
  node: number;
  branch: string;
  state: State;
  cseq: number;
  deadline: number;
  first: number;
  cur: number;
  srd: boolean;
  pdd: boolean;
  expires0: boolean;
  fromSent: boolean;
}
interface Dialog {
  node: number;
  deadline: number;
  answer: number;
}
/** One INVITE transaction between the node and a peer (per-peer KPIs). */
interface Leg {
  node: number;
  peer: number;
  direction: 'from_peer' | 'to_peer';
  open: boolean;
  deadline: number;
  invite: number;
  srd: boolean;
  pdd: boolean;
  cancelled: boolean;
}

const OUTCOME: Record<number, string> = {
  486: 'busy',
  600: 'busy',
  603: 'declined',
  480: 'unavailable',
  487: 'cancelled',
  408: 'ineffective',
  500: 'ineffective',
  503: 'ineffective',
  504: 'ineffective',
};
const outcomeOf = (s: number) => (s < 300 ? 'answered' : s < 400 ? 'redirected' : (OUTCOME[s] ?? 'failed'));

export class ReferenceEngine {
  events: string[] = [];
  attempts = new Map<string, Attempt>();
  dialogs = new Map<string, Dialog>();
  legs = new Map<string, Leg>();
  private capOrigin: number | undefined;
  constructor(
    private readonly o = KPI_DEFAULTS,
    /** follow per-peer legs, as the engine does when it has a peer sink */
    private readonly followLegs = false,
  ) {}

  private settleLeg(key: string, now: number): boolean {
    const l = this.legs.get(key);
    if (l === undefined) return false;
    for (;;) {
      if (now < l.deadline) return true;
      if (!l.open) {
        this.legs.delete(key);
        return false;
      }
      l.open = false;
      l.deadline += this.o.lingerMs;
      this.events.push(`leg ${l.node} ${l.peer} ${l.direction} ${l.cancelled ? 'cancelled' : 'timeout'}`);
    }
  }

  /** Legs are keyed by branch and live apart from attempts: one INVITE transaction each. */
  private leg(m: Msg): void {
    const node = m.node ?? 0;
    const key = `${node}|${m.callId}|${m.fromTag}|${m.branch}`;
    const now = m.now;
    if (m.req) {
      if (m.method === 'INVITE' && m.toTag === undefined) {
        if (!this.followLegs || !((m.peer ?? 0) > 0) || m.dir === undefined) return;
        if (this.settleLeg(key, now)) return;
        this.legs.set(key, {
          node,
          peer: m.peer as number,
          direction: m.dir === 'out' ? 'to_peer' : 'from_peer',
          open: true,
          deadline: now + this.o.inviteTimeoutMs,
          invite: m.cap,
          srd: false,
          pdd: false,
          cancelled: false,
        });
      } else if (m.method === 'CANCEL') {
        if (!this.settleLeg(key, now)) return;
        const l = this.legs.get(key) as Leg;
        if (!l.open) return;
        l.cancelled = true;
        l.deadline = Math.min(l.deadline, now + this.o.nonInviteTimeoutMs);
      }
      return;
    }
    const status = m.status ?? 0;
    if (m.method !== 'INVITE' || !(status > 100 && status <= 699)) return;
    if (!this.settleLeg(key, now)) return;
    const l = this.legs.get(key) as Leg;
    if (!l.open) return;
    const ms = m.cap - l.invite;
    const at = `${l.node} ${l.peer} ${l.direction}`;
    if (status < 200) {
      if (!l.srd && ms >= 0) this.events.push(`leg-srd ${at} success ${ms / 1000}`);
      l.srd = true;
      if ((status === 180 || status === 183) && !l.pdd) {
        l.pdd = true;
        if (ms >= 0) this.events.push(`leg-pdd ${at} ${ms / 1000}`);
      }
      return;
    }
    l.open = false;
    l.deadline = now + this.o.lingerMs;
    if (status === 401 || status === 407) return;
    if (!l.srd && ms >= 0 && (status < 300 || status >= 400))
      this.events.push(`leg-srd ${at} ${status < 300 ? 'success' : 'failure'} ${ms / 1000}`);
    this.events.push(`leg ${at} ${outcomeOf(status)}`);
  }

  private settle(key: string, now: number): boolean {
    const a = this.attempts.get(key);
    if (a === undefined) return false;
    for (;;) {
      if (now < a.deadline) return true;
      if (a.state === 'open' || a.state === 'challenged') {
        const outcome = a.state === 'open' ? 'timeout' : 'failed';
        a.state = a.state === 'open' ? 'timedout' : 'ended';
        a.deadline += this.o.lingerMs;
        if (!a.register) this.events.push(`attempt ${a.node} ${outcome}`);
        else this.events.push(`${a.expires0 ? 'deregister' : 'register'} ${a.node} ${outcome}`);
      } else {
        this.attempts.delete(key);
        return false;
      }
    }
  }

  private settleDialog(key: string, now: number): boolean {
    const d = this.dialogs.get(key);
    if (d === undefined) return false;
    if (now < d.deadline) return true;
    this.dialogs.delete(key);
    this.events.push(`session-cut ${d.node} max_duration`);
    return false;
  }

  private delay(kind: string, node: number, ms: number, result?: string): void {
    if (ms < 0) return;
    this.events.push(
      result === undefined ? `${kind} ${node} ${ms / 1000}` : `${kind} ${node} ${result} ${ms / 1000}`,
    );
  }

  private reason(m: Msg): void {
    if (m.reason === undefined) return;
    const [p, c] = m.reason;
    if ((p === 1 && c >= 1 && c <= 127) || (p === 2 && c >= 300 && c <= 699))
      this.events.push(`cause ${m.node ?? 0} ${p === 1 ? 'q850' : 'sip'} ${c}`);
  }

  handle(m: Msg): void {
    this.attempt(m);
    this.leg(m);
  }

  private attempt(m: Msg): void {
    this.capOrigin ??= m.cap;
    const node = m.node ?? 0;
    const now = m.now;
    const cap = m.cap;
    if (m.req) {
      if ((m.method === 'INVITE' && m.toTag === undefined) || m.method === 'REGISTER') {
        const register = m.method === 'REGISTER';
        const key = `${register}|${node}|${m.callId}|${m.fromTag}`;
        const timeout = register ? this.o.nonInviteTimeoutMs : this.o.inviteTimeoutMs;
        const a = this.settle(key, now) ? this.attempts.get(key) : undefined;
        if (a !== undefined) {
          if (
            m.cseq === a.cseq &&
            (a.state === 'open' || a.state === 'challenged') &&
            a.fromSent &&
            m.dir === 'in'
          ) {
            a.branch = m.branch;
            a.fromSent = false;
            if (cap < a.cur) {
              if (a.first === a.cur) a.first = cap;
              a.cur = cap;
            }
          }
          if (m.cseq <= a.cseq) return;
          if (a.state === 'open' || a.state === 'challenged') {
            Object.assign(a, {
              branch: m.branch,
              state: 'open',
              cseq: m.cseq,
              deadline: now + timeout,
              cur: cap,
            });
            a.expires0 = m.expires0 ?? false;
            a.fromSent = m.dir === 'out';
            return;
          }
        }
        this.attempts.set(key, {
          register,
          node,
          branch: m.branch,
          state: 'open',
          cseq: m.cseq,
          deadline: now + timeout,
          first: cap,
          cur: cap,
          srd: false,
          pdd: false,
          expires0: m.expires0 ?? false,
          fromSent: m.dir === 'out',
        });
      } else if (m.method === 'BYE' && m.toTag !== undefined) {
        const key = `${node}|${m.callId}|${[m.fromTag, m.toTag].sort().join('|')}`;
        if (!this.settleDialog(key, now)) return;
        const d = this.dialogs.get(key) as Dialog;
        this.dialogs.delete(key);
        const ms = cap - d.answer;
        this.events.push(ms < 0 ? `session-cut ${node} clock_step` : `session-end ${node} ${ms / 1000}`);
        this.reason(m);
      }
      return;
    }
    if (m.method !== 'INVITE' && m.method !== 'REGISTER') return;
    const status = m.status ?? 0;
    if (status < 100 || status > 699) return;
    const register = m.method === 'REGISTER';
    // A response is the attempt's whose upstream branch is its top Via branch: found by Call-ID
    // and branch, whatever its From tag. Two live attempts on one branch: neither.
    const prefix = `${register}|${node}|${m.callId}|`;
    const live: string[] = [];
    for (const [k, a] of [...this.attempts])
      if (k.startsWith(prefix) && a.branch === m.branch && this.settle(k, now)) live.push(k);
    if (live.length !== 1) return;
    const key = live[0];
    const a = this.attempts.get(key) as Attempt;
    if (a.state === 'timedout') {
      if (status >= 200) {
        a.state = 'ended';
        this.events.push(`late ${node} ${register ? 12 : 5}`);
      }
      return;
    }
    if (a.state === 'ended' || m.cseq !== a.cseq || a.state === 'challenged') return;
    const challenge = status === 401 || status === 407 || (register && status === 423);
    if (register) {
      if (status < 200) return;
      if (challenge) {
        a.state = 'challenged';
        a.deadline = now + this.o.nonInviteTimeoutMs;
        return;
      }
      a.state = 'ended';
      a.deadline = now + this.o.lingerMs;
      const outcome = status < 300 ? 'registered' : 'failed';
      if (a.expires0) this.events.push(`deregister ${node} ${outcome}`);
      else {
        if (status < 300) this.delay('rrd', node, cap - a.first);
        this.events.push(`register ${node} ${outcome}`);
      }
      return;
    }
    const ms = cap - a.cur;
    if (status < 200) {
      if (status === 100) return;
      if (!a.srd) this.delay('srd', node, ms, 'success');
      a.srd = true;
      if ((status === 180 || status === 183) && !a.pdd) {
        a.pdd = true;
        this.delay('pdd', node, ms);
      }
      return;
    }
    if (challenge) {
      a.state = 'challenged';
      a.deadline = now + this.o.nonInviteTimeoutMs;
      return;
    }
    if (!a.srd && status < 300) this.delay('srd', node, ms, 'success');
    else if (!a.srd && status >= 400) this.delay('srd', node, ms, 'failure');
    a.srd = true;
    a.state = 'ended';
    a.deadline = now + this.o.lingerMs;
    const outcome = outcomeOf(status);
    this.events.push(`attempt ${node} ${outcome}`);
    this.reason(m);
    if (outcome === 'answered') {
      const key = `${node}|${m.callId}|${[m.fromTag, m.toTag ?? ''].sort().join('|')}`;
      if (this.settleDialog(key, now)) return;
      this.dialogs.set(key, { node, deadline: now + this.o.maxSessionMs, answer: cap });
      this.events.push(`session-start ${node}`);
    }
  }

  expireAll(now: number): void {
    for (const key of [...this.attempts.keys()]) this.settle(key, now);
    for (const key of [...this.dialogs.keys()]) this.settleDialog(key, now);
    for (const key of [...this.legs.keys()]) this.settleLeg(key, now);
  }
}
