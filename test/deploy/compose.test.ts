import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { requirePeer } from '../helpers/peers.js';

const root = join(import.meta.dirname, '..', '..');
const composeDir = join(root, 'deploy/compose');

interface Service {
  build?: { context: string };
  profiles?: string[];
  command?: string[];
  volumes?: Array<{ source: string; target: string; type: string } | string>;
  ports?: Array<{ target: number; protocol: string; published: string | number }>;
}

function config(): { services: Record<string, Service> } {
  const compose = requirePeer('docker-compose', 'docker-compose');
  const out = execFileSync(compose, ['-f', join(composeDir, 'docker-compose.yml'), 'config'], {
    encoding: 'utf8',
    cwd: composeDir,
  });
  return parseYaml(out) as { services: Record<string, Service> };
}

describe('deploy/compose', () => {
  it('passes docker-compose config with the exporter, Prometheus, Alertmanager and Grafana', () => {
    const { services } = config();
    expect(Object.keys(services).sort()).toEqual([
      'alertmanager',
      'grafana',
      'prometheus',
      'sip-response-exporter',
      'sip-response-exporter-demo',
    ]);
    expect(resolve(services['sip-response-exporter'].build!.context)).toBe(resolve(root));
    const published = (services['sip-response-exporter'].ports ?? []).map((p) => `${p.target}/${p.protocol}`);
    expect(published.sort()).toEqual(['5514/tcp', '5514/udp', '9060/tcp', '9060/udp', '9467/tcp'].sort());
  });

  it('has a demo profile: an exporter with --demo that publishes its web port only, scraped as its own job', () => {
    const { services } = config();
    const demo = services['sip-response-exporter-demo'];
    expect(demo.profiles).toEqual(['demo']);
    // Only the demo service is in a profile: a plain `up` starts what it always did.
    for (const [name, s] of Object.entries(services))
      if (name !== 'sip-response-exporter-demo') expect(s.profiles).toBeUndefined();
    expect(demo.command).toContain('--demo');
    expect(resolve(demo.build!.context)).toBe(resolve(root));
    expect((demo.ports ?? []).map((p) => `${p.published}:${p.target}/${p.protocol}`)).toEqual([
      '9468:9467/tcp',
    ]);
    const prometheus = parseYaml(readFileSync(join(composeDir, 'prometheus.yml'), 'utf8')) as {
      scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }>;
    };
    const job = prometheus.scrape_configs.find((j) => j.job_name === 'sip-response-exporter-demo');
    expect(job?.static_configs[0].targets).toEqual(['sip-response-exporter-demo:9467']);
  });

  it('mounts files that exist: the rules, the dashboards and the Grafana provisioning', () => {
    const { services } = config();
    // docker-compose 1.x prints short "source:target:mode" strings, 2.x long objects.
    const mounts = Object.values(services).flatMap((s) =>
      (s.volumes ?? [])
        .map((v) => {
          if (typeof v === 'object') return v.type === 'bind' ? { source: v.source, target: v.target } : null;
          const [source, target] = v.split(':');
          return source.startsWith('/') ? { source, target } : null;
        })
        .filter((m): m is { source: string; target: string } => m !== null),
    );
    expect(mounts.length).toBeGreaterThanOrEqual(5);
    for (const m of mounts) expect(existsSync(m.source), m.source).toBe(true);
    const targets = mounts.map((m) => m.target);
    expect(targets).toContain('/etc/prometheus/rules/sip-response-exporter.rules.yml');
    expect(targets).toContain('/var/lib/grafana/dashboards/sip-response-exporter');
    expect(targets).toContain('/etc/grafana/provisioning');
  });

  it('gives Prometheus a valid configuration that loads the mounted rules and scrapes the exporter', () => {
    const promtool = requirePeer('promtool', 'prometheus');
    const file = join(composeDir, 'prometheus.yml');
    expect(
      execFileSync(promtool, ['check', 'config', '--syntax-only', file], { encoding: 'utf8' }),
    ).toContain('SUCCESS');
    const prometheus = parseYaml(readFileSync(file, 'utf8')) as {
      rule_files: string[];
      scrape_configs: Array<{ static_configs: Array<{ targets: string[] }> }>;
    };
    expect(prometheus.rule_files).toEqual(['/etc/prometheus/rules/sip-response-exporter.rules.yml']);
    expect(prometheus.scrape_configs[0].static_configs[0].targets).toEqual(['sip-response-exporter:9467']);
    // The provisioning mounted into Grafana points at the dashboards mounted beside it.
    const provider = parseYaml(
      readFileSync(join(root, 'deploy/grafana/provisioning/dashboards/sip-response-exporter.yml'), 'utf8'),
    ) as {
      providers: Array<{ options: { path: string } }>;
    };
    expect(provider.providers[0].options.path).toBe('/var/lib/grafana/dashboards/sip-response-exporter');
  });
});
