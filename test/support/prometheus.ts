// A real Prometheus (Debian's `prometheus` package, installed by .ci/run) on a free loopback port with a
// temporary data directory, scraping the targets a test names every second, and a small client for its HTTP
// API. Started per test file that needs it (it starts in about a second).
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort, type ManagedProcess, startProcess, waitFor } from "./processes.js";

const run = promisify(execFile);

export interface ScrapeTarget {
  /** `host:port` serving /metrics. */
  address: string;
  /** Target labels the scrape adds (e.g. `namespace`, `pod`, as a PodMonitor would). */
  labels?: Record<string, string>;
}

export interface PrometheusSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface RunningPrometheus {
  url: string;
  /** An instant query; throws with Prometheus' error for a bad expression. */
  query(expr: string): Promise<PrometheusSample[]>;
  /** `label_values(match, label)` as Grafana asks for it. */
  labelValues(label: string, match: string): Promise<string[]>;
  /** Resolves once every target has been scraped successfully at least `scrapes` times since now. */
  waitForScrapes(scrapes?: number): Promise<void>;
  stop(): Promise<void>;
}

export function prometheusBinary(name: "prometheus" | "promtool" = "prometheus"): string {
  return process.env[name === "prometheus" ? "GITOPS_BOT_PROMETHEUS" : "GITOPS_BOT_PROMTOOL"] ?? name;
}

/** `promtool check rules <files>`: its output, or an error with that output. */
export async function promtoolCheckRules(...files: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run(prometheusBinary("promtool"), ["check", "rules", ...files]);
    return `${stdout}${stderr}`;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`promtool check rules failed: ${e.stdout ?? ""}${e.stderr ?? e.message}`, { cause: err });
  }
}

export async function startPrometheus(opts: {
  targets: ScrapeTarget[];
  ruleFiles?: string[];
}): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), "gitops-bot-prometheus-"));
  const config = {
    global: { scrape_interval: "1s", scrape_timeout: "900ms", evaluation_interval: "1s" },
    rule_files: opts.ruleFiles ?? [],
    scrape_configs: [
      {
        job_name: "gitops-bot",
        metrics_path: "/metrics",
        static_configs: opts.targets.map((t) => ({ targets: [t.address], labels: t.labels ?? {} })),
      },
    ],
  };
  // JSON is YAML: no YAML writer needed for Prometheus' config.
  writeFileSync(join(dir, "prometheus.yml"), JSON.stringify(config, null, 2));
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const prometheus = startProcess(
      "prometheus",
      prometheusBinary(),
      [
        `--config.file=${join(dir, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--storage.tsdb.retention.time=1h",
        // Queries see samples at most this old as current: the scenario's samples are seconds old.
        "--query.lookback-delta=1m",
      ],
      { logDir: dir },
    );
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitFor("prometheus ready", async () => (await fetch(`${url}/-/ready`)).ok, {
        timeoutMs: 30_000,
        process: prometheus,
      });
      return client(url, prometheus, dir);
    } catch (err) {
      lastError = err;
      await prometheus.stop();
    }
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError;
}

function client(url: string, process: ManagedProcess, dir: string): RunningPrometheus {
  const api = async <T>(path: string, params: Record<string, string>): Promise<T> => {
    const res = await fetch(`${url}${path}?${new URLSearchParams(params)}`);
    const body = (await res.json()) as { status: string; data: T; error?: string; errorType?: string };
    if (body.status !== "success") {
      throw new Error(`prometheus ${path} ${JSON.stringify(params)}: ${body.errorType}: ${body.error}`);
    }
    return body.data;
  };
  const scrapeCounts = async () => {
    const data = await api<{ activeTargets: { health: string; lastScrape: string; scrapeUrl: string }[] }>(
      "/api/v1/targets",
      { state: "active" },
    );
    return data.activeTargets;
  };
  return {
    url,
    query: async (expr) => {
      const data = await api<{ resultType: string; result: PrometheusSample[] | [number, string] }>(
        "/api/v1/query",
        { query: expr },
      );
      // A scalar answer (`time()`, `vector(0)` is a vector) is wrapped as one sample without labels.
      if (data.resultType === "scalar") return [{ metric: {}, value: data.result as [number, string] }];
      return data.result as PrometheusSample[];
    },
    labelValues: (label, match) => api<string[]>(`/api/v1/label/${label}/values`, { "match[]": match }),
    waitForScrapes: async (scrapes = 2) => {
      const since = Date.now();
      let seen = 0;
      let last = "";
      await waitFor(
        `${scrapes} successful scrapes`,
        async () => {
          const targets = await scrapeCounts();
          const ok =
            targets.length > 0 && targets.every((t) => t.health === "up" && Date.parse(t.lastScrape) > since);
          const stamp = targets.map((t) => t.lastScrape).join();
          if (ok && stamp !== last) {
            seen++;
            last = stamp;
          }
          return seen >= scrapes;
        },
        { timeoutMs: 30_000, intervalMs: 200, process },
      );
    },
    stop: async () => {
      await process.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
