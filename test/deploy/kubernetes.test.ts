import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { requirePeer } from '../helpers/peers.js';

const root = join(import.meta.dirname, '..', '..');

interface Resource {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

function render(): Resource[] {
  const kubectl = requirePeer('kubectl', 'kubectl');
  const out = execFileSync(kubectl, ['kustomize', join(root, 'deploy/kubernetes')], { encoding: 'utf8' });
  return parseAllDocuments(out).map((d) => d.toJSON() as Resource);
}

describe('deploy/kubernetes', () => {
  it('renders with kubectl kustomize into a Deployment, Service, ConfigMap, ServiceMonitor and PrometheusRule', () => {
    const resources = render();
    expect(resources.map((r) => r.kind).sort()).toEqual(
      ['ConfigMap', 'Deployment', 'PrometheusRule', 'Service', 'ServiceMonitor'].sort(),
    );
    for (const r of resources) {
      expect(r.metadata.namespace).toBe('monitoring');
      expect(r.metadata.labels?.['app.kubernetes.io/name']).toBe('sip-response-exporter');
    }
  });

  it('runs the exporter with probes, resources and a locked-down security context', () => {
    const deployment = render().find((r) => r.kind === 'Deployment')!;
    const pod = (deployment.spec as { template: { spec: Record<string, unknown> } }).template.spec as {
      securityContext: Record<string, unknown>;
      containers: Array<Record<string, unknown>>;
      volumes: Array<{ configMap: { name: string } }>;
    };
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    const container = pod.containers[0] as {
      livenessProbe: { httpGet: { path: string } };
      readinessProbe: { httpGet: { path: string } };
      resources: { requests: object; limits: object };
      securityContext: Record<string, unknown>;
      ports: Array<{ containerPort: number; protocol: string }>;
    };
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container.resources.requests).toBeTruthy();
    expect(container.resources.limits).toBeTruthy();
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(container.ports.map((p) => `${p.containerPort}/${p.protocol}`).sort()).toEqual(
      ['5514/TCP', '5514/UDP', '9060/TCP', '9060/UDP', '9467/TCP'].sort(),
    );
    // The pod mounts the ConfigMap kustomize generated (its name carries a content hash).
    const configMap = render().find((r) => r.kind === 'ConfigMap')!;
    expect(pod.volumes[0].configMap.name).toBe(configMap.metadata.name);
    expect(() => loadConfig({ file: join(root, 'deploy/kubernetes/config.yml') })).not.toThrow();
  });

  it('exposes HEP and syslog over UDP and TCP, and metrics over HTTP, on one Service the ServiceMonitor scrapes', () => {
    const resources = render();
    const service = resources.find((r) => r.kind === 'Service')!;
    const ports = (service.spec as { ports: Array<{ name: string; port: number; protocol: string }> }).ports;
    expect(ports.map((p) => `${p.port}/${p.protocol}`).sort()).toEqual(
      ['5514/TCP', '5514/UDP', '9060/TCP', '9060/UDP', '9467/TCP'].sort(),
    );
    const monitor = resources.find((r) => r.kind === 'ServiceMonitor')!;
    const endpoint = (monitor.spec as { endpoints: Array<{ port: string; path: string }> }).endpoints[0];
    expect(ports.map((p) => p.name)).toContain(endpoint.port);
    expect(endpoint.path).toBe('/metrics');
  });

  it('holds exactly the rules of deploy/prometheus in its PrometheusRule', () => {
    const rule = render().find((r) => r.kind === 'PrometheusRule')!;
    const file = parseYaml(
      readFileSync(join(root, 'deploy/prometheus/sip-response-exporter.rules.yml'), 'utf8'),
    ) as {
      groups: unknown[];
    };
    expect((rule.spec as { groups: unknown[] }).groups).toEqual(file.groups);
  });
});
