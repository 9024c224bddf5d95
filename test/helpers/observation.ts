import type { NodeLabels } from '../../src/count/nodes.js';
import type { Observation } from '../../src/count/observation.js';
import type { SipCounter } from '../../src/count/sip-counter.js';
import { METHOD_LABELS } from '../../src/sip/methods.js';

/** Raw address bytes (or text) as dotted decimal, for reading an IPv4 address in a test. */
function dotted(text: string): string {
  return [...text].map((c) => c.charCodeAt(0)).join('.');
}

/** An observation as plain values, copied out while the call lasts (sources reuse the object). */
export function observed(o: Observation, nodes?: NodeLabels) {
  return {
    node: nodes === undefined ? o.node : nodes.labels[o.node],
    kind: o.kind,
    code: o.statusCode,
    method: METHOD_LABELS[o.method],
    cseq: o.cseqNumber,
    callId: o.callId.toString(),
    fromTag: o.fromTag.toString(),
    toTag: o.toTag.toString(),
    viaBranch: o.viaBranch.toString(),
    time: [o.timeSeconds, o.timeMicroseconds, o.timeSource],
    now: o.now,
    source: dotted(o.sourceAddress.toString()),
    destination: dotted(o.destinationAddress.toString()),
    ports: [o.sourcePort, o.destinationPort],
    transport: o.transport,
    listener: o.listener,
  };
}

/** Records every observation the counter is handed, then counts it as usual. */
export function recordObservations(counter: SipCounter): Array<ReturnType<typeof observed>> {
  const seen: Array<ReturnType<typeof observed>> = [];
  const real = counter.count;
  counter.count = function (this: SipCounter, o: Observation) {
    seen.push(observed(o, counter.nodes));
    return real.call(this, o);
  };
  return seen;
}
