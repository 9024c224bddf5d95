import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, type LabProcess, requireProgram, startProcess, waitFor } from './processes.js';

const root = dirname(dirname(fileURLToPath(import.meta.url)));

/** The rule files the project ships, which the lab's Prometheus loads. */
export function ruleFiles(): string[] {
  const dir = join(root, 'deploy', 'prometheus');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.rules.yml'))
    .map((f) => join(dir, f));
}

export interface PrometheusHandle {
  url: string;
  process: LabProcess;
  /** an instant query; returns the result vector */
  query: (promql: string) => Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  api: <T>(path: string) => Promise<T>;
}

/** A throwaway Prometheus that scrapes `targets` every second with the project's rules loaded. */
export async function startPrometheus(dir: string, targets: string[]): Promise<PrometheusHandle> {
  const program = requireProgram('prometheus', 'prometheus');
  const port = await freePort();
  const storage = join(dir, 'prometheus-data');
  mkdirSync(storage, { recursive: true });
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      `rule_files: ${JSON.stringify(ruleFiles())}`,
      'scrape_configs:',
      '  - job_name: sip-response-exporter',
      '    static_configs:',
      `      - targets: ${JSON.stringify(targets)}`,
      '',
    ].join('\n'),
  );
  const process = startProcess(dir, 'prometheus', program, [
    `--config.file=${config}`,
    `--storage.tsdb.path=${storage}`,
    `--web.listen-address=127.0.0.1:${port}`,
  ]);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    'prometheus to be ready',
    async () => {
      if (process.child.exitCode !== null) throw new Error(`prometheus exited: ${process.log()}`);
      try {
        return (await fetch(`${url}/-/ready`)).status === 200;
      } catch {
        return false;
      }
    },
    30_000,
  );
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}${path}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error}`);
    return body.data;
  };
  return {
    url,
    process,
    api,
    query: async (promql) =>
      (
        await api<{ result: Array<{ metric: Record<string, string>; value: [number, string] }> }>(
          `/api/v1/query?query=${encodeURIComponent(promql)}`,
        )
      ).result,
  };
}
