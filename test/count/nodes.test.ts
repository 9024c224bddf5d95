import { describe, expect, it } from 'vitest';
import { NODE_OTHER, NodeLabels } from '../../src/count/nodes.js';

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
