import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeNodeLabel, NODE_OTHER, NodeLabels, RESERVED_NODE_LABELS } from '../../src/count/nodes.js';

function nodes(limit: number, names: Record<string, string> = {}) {
  const overflow = { value: 0 };
  return { labels: new NodeLabels(limit, new Map(Object.entries(names)), overflow), overflow };
}

describe('node labels', () => {
  it('names a node by capture ID, agent name or text, and maps each to the same index every time', () => {
    const { labels } = nodes(10);
    const byId = labels.fromCaptureId(2001);
    expect(labels.labels[byId]).toBe('2001');
    expect(labels.fromCaptureId(2001)).toBe(byId);
    const name = Buffer.from('xxproxy-axx');
    const byName = labels.fromBytes(name, 2, 9);
    expect(labels.labels[byName]).toBe('proxy-a');
    expect(labels.fromBytes(Buffer.from('proxy-a'), 0, 7)).toBe(byName);
    expect(labels.fromText('proxy-a')).toBe(byName);
    expect(labels.size).toBe(2);
  });

  it('renames IDs and names from the config map, and merges nodes that share a name', () => {
    const { labels } = nodes(10, { '2001': 'edge-1', '2002': 'edge-1', 'kam-old': 'core' });
    expect(labels.labels[labels.fromCaptureId(2001)]).toBe('edge-1');
    expect(labels.fromCaptureId(2002)).toBe(labels.fromCaptureId(2001));
    expect(labels.labels[labels.fromText('kam-old')]).toBe('core');
    expect(labels.size).toBe(2);
  });

  it('sends nodes past the limit to other and counts each message', () => {
    const { labels, overflow } = nodes(2);
    labels.fromCaptureId(1);
    labels.fromCaptureId(2);
    expect(labels.fromCaptureId(3)).toBe(NODE_OTHER);
    expect(labels.fromText('new')).toBe(NODE_OTHER);
    expect(labels.fromCaptureId(3)).toBe(NODE_OTHER);
    expect(labels.labels[NODE_OTHER]).toBe('other');
    expect(overflow.value).toBe(3);
    expect(labels.fromCaptureId(1)).not.toBe(NODE_OTHER);
    expect(labels.size).toBe(2);
  });

  it('cuts very long names and names an empty one unknown', () => {
    const { labels } = nodes(5);
    expect(labels.labels[labels.fromText('x'.repeat(500))]).toHaveLength(128);
    expect(labels.labels[labels.fromText('')]).toBe('unknown');
  });
});

describe('node labels never take a reserved value', () => {
  it('labels a node that calls itself other apart from the overflow series', () => {
    const { labels } = nodes(1);
    const named = labels.fromBytes(Buffer.from('other'), 0, 5);
    expect(named).not.toBe(NODE_OTHER);
    expect(labels.labels[named]).toBe('other_');
    // Past the limit the overflow keeps its own label, and the two never share one.
    expect(labels.fromText('next')).toBe(NODE_OTHER);
    expect(labels.labels[NODE_OTHER]).toBe('other');
    expect(new Set(labels.labels).size).toBe(labels.labels.length);
  });

  it('escapes reserved names from every path: capture ID renames, text, and a name with underscores', () => {
    const { labels } = nodes(10, { '7': 'other' });
    expect(labels.labels[labels.fromCaptureId(7)]).toBe('other_');
    expect(labels.labels[labels.fromText('unknown')]).toBe('unknown_');
    expect(labels.labels[labels.fromText('other_')]).toBe('other__');
    expect(labels.labels[labels.fromText('')]).toBe('unknown');
    expect(labels.labels[labels.fromText('others')]).toBe('others');
    expect(labels.labels[labels.fromText('_other')]).toBe('_other');
  });

  it('gives distinct names distinct labels, none of them reserved (property)', () => {
    const name = fc.oneof(
      fc.string({ maxLength: 20 }),
      fc
        .tuple(fc.constantFrom(...RESERVED_NODE_LABELS), fc.nat({ max: 4 }))
        .map(([word, n]) => word + '_'.repeat(n)),
    );
    fc.assert(
      fc.property(fc.uniqueArray(name, { maxLength: 30 }), (names) => {
        const { labels } = nodes(100);
        const indices = names.map((n) => labels.fromText(n));
        expect(new Set(indices).size).toBe(names.length);
        for (let i = 0; i < names.length; i++) {
          const label = labels.labels[indices[i]];
          if (names[i] === '') expect(label).toBe('unknown');
          else expect(RESERVED_NODE_LABELS).not.toContain(label);
        }
        expect(new Set(labels.labels).size).toBe(labels.labels.length);
      }),
    );
  });

  it('escapes exactly the reserved words followed by underscores (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.constantFrom(...RESERVED_NODE_LABELS), fc.string({ maxLength: 12 })),
        fc.nat({ max: 3 }),
        (text, n) => {
          const raw = text + '_'.repeat(n);
          const escaped = escapeNodeLabel(raw);
          const stem = raw.replace(/_+$/, '');
          expect(escaped).toBe(RESERVED_NODE_LABELS.includes(stem) ? `${raw}_` : raw);
        },
      ),
    );
  });
});

describe('node labels shared between threads', () => {
  function views(limit: number, count = 2) {
    const shared = NodeLabels.share(limit);
    return Array.from({ length: count }, () => {
      const overflow = { value: 0 };
      const gauge = { value: 0 };
      return { labels: new NodeLabels(limit, new Map(), overflow, gauge, shared), overflow, gauge };
    });
  }

  it('gives a node one index whichever view names it first, and hands the label to the others', () => {
    const [a, b] = views(10);
    const edge = a.labels.fromText('edge');
    expect(b.labels.fromBytes(Buffer.from('edge'), 0, 4)).toBe(edge);
    const core = b.labels.fromCaptureId(2001);
    expect(core).not.toBe(edge);
    expect(a.labels.labelOf(core)).toBe('2001');
    expect(a.labels.size).toBe(2);
    a.labels.refreshCount();
    expect(a.gauge.value).toBe(2);
  });

  it('holds the limit for all views together, each counting its own messages past it', () => {
    const [a, b] = views(3);
    expect([a.labels.fromText('n1'), b.labels.fromText('n2'), a.labels.fromText('n3')]).toEqual([1, 2, 3]);
    expect(b.labels.fromText('n4')).toBe(NODE_OTHER);
    expect(a.labels.fromText('n5')).toBe(NODE_OTHER);
    expect(b.labels.fromText('n1')).toBe(1);
    expect([a.overflow.value, b.overflow.value]).toEqual([1, 1]);
    expect(b.labels.size).toBe(3);
  });

  it('agrees with one table for any names in any views, the longest and escaped ones included', () => {
    const name = fc.oneof(fc.constantFrom('other', 'unknown', 'other_', ''), fc.string({ maxLength: 140 }));
    fc.assert(
      fc.property(fc.array(fc.tuple(name, fc.integer({ min: 0, max: 2 })), { maxLength: 60 }), (ops) => {
        const single = nodes(8).labels;
        const shared = views(8, 3);
        for (const [text, view] of ops) {
          const index = shared[view].labels.fromText(text);
          expect(index).toBe(single.fromText(text));
          expect(shared[(view + 1) % 3].labels.labelOf(index)).toBe(single.labels[index] ?? 'other');
        }
      }),
    );
  });
});
