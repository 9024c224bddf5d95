import { PACKAGE_NAME, VERSION } from '../version.js';

/** Packets received on one transport of a listener, and when the last one came. */
export interface TransportActivity {
  transport: string;
  packets: number;
  /** ms since the epoch; null when nothing arrived yet */
  lastPacketAt: number | null;
}

export interface ListenerInfo {
  name: string;
  transports: string;
  address: string;
  /** per transport; a listener without it shows its transports only */
  activity?: TransportActivity[];
}

/** A node and the source it reports through, with the sender addresses it came from. */
export interface NodeSeen {
  node: string;
  source: string;
  senders: readonly string[];
}

/** The first nodes seen, and how many (node, source) pairs there are in all. */
export interface NodesSeen {
  shown: readonly NodeSeen[];
  total: number;
}

/** Nodes listed on the landing page; the rest are counted, and all are in sip_exporter_node_info. */
export const LANDING_NODES = 50;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function ago(at: number, now: number): string {
  const seconds = Math.max(0, Math.round((now - at) / 1000));
  if (seconds < 120) return `${seconds} s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

function listenerRows(listeners: readonly ListenerInfo[], now: number): string {
  const rows: string[] = [];
  for (const l of listeners) {
    const name = escapeHtml(l.name);
    const address = `<code>${escapeHtml(l.address)}</code>`;
    const activity = l.activity ?? [];
    if (activity.length === 0) {
      rows.push(
        `<tr><td>${name}</td><td>${escapeHtml(l.transports)}</td><td>${address}</td><td></td><td></td></tr>`,
      );
      continue;
    }
    for (const a of activity) {
      const last =
        a.lastPacketAt === null
          ? 'never'
          : `<time datetime="${new Date(a.lastPacketAt).toISOString()}">${new Date(a.lastPacketAt).toISOString()}</time> (${ago(a.lastPacketAt, now)})`;
      rows.push(
        `<tr><td>${name}</td><td>${escapeHtml(a.transport)}</td><td>${address}</td><td>${a.packets}</td><td>${last}</td></tr>`,
      );
    }
  }
  return rows.join('\n');
}

function nodesSection(nodes: NodesSeen | undefined): string {
  if (nodes === undefined) return '';
  if (nodes.total === 0) return '<h2>Nodes</h2>\n<p>No SIP message counted yet.</p>\n';
  const rows = nodes.shown
    .map(
      (n) =>
        `<tr><td>${escapeHtml(n.node)}</td><td>${escapeHtml(n.source)}</td><td>${n.senders.map((s) => `<code>${escapeHtml(s)}</code>`).join(', ')}</td></tr>`,
    )
    .join('\n');
  const more =
    nodes.total > nodes.shown.length
      ? `<p>and ${nodes.total - nodes.shown.length} more (all in <code>sip_exporter_node_info</code>)</p>\n`
      : '';
  return `<h2>Nodes</h2>
<table><tr><th>Node</th><th>Source</th><th>Senders</th></tr>
${rows}
</table>
${more}`;
}

/** The landing page: links, and whether anything is arriving, per listener and per node. */
export function renderLanding(
  telemetryPath: string,
  listeners: readonly ListenerInfo[],
  nodes: NodesSeen | undefined,
  now = Date.now(),
): string {
  const path = escapeHtml(telemetryPath);
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>SIP Response Exporter</title>
<style>body{font-family:sans-serif;margin:2em;max-width:60em}td,th{padding:.2em 1em;text-align:left}</style></head>
<body>
<h1>SIP Response Exporter</h1>
<p>${escapeHtml(PACKAGE_NAME)} ${escapeHtml(VERSION)}: counts SIP responses from HEP and syslog by code, class, reason, method and node.</p>
<ul>
<li><a href="${path}">Metrics</a></li>
<li><a href="/healthz">Health</a></li>
<li><a href="/readyz">Readiness</a></li>
</ul>
<h2>Listeners</h2>
<table><tr><th>Listener</th><th>Transport</th><th>Address</th><th>Packets</th><th>Last packet</th></tr>
${listenerRows(listeners, now)}
</table>
${nodesSection(nodes)}</body>
</html>
`;
}
