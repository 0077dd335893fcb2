// The per-object Flux series (gotk_*), one prom-client Registry per cluster. They are most of a scrape's text
// (a histogram of 13 lines per object) and change only when that cluster reconciles, so each cluster's text
// is rendered once per change and kept; a scrape joins the kept texts under one HELP/TYPE header per metric
// (the text format wants each metric's lines together).
import { Gauge, Histogram, Registry } from "prom-client";
import { FLUX_DURATION_BUCKETS } from "./flux-kinds.js";

export const INFO_LABELS = [
  "cluster",
  "customresource_group",
  "customresource_kind",
  "customresource_version",
  "name",
  "namespace",
  "ready",
  "suspended",
  "revision",
  "source_name",
  "chart_name",
  "chart_version",
  "chart_app_version",
  "chart_source_name",
  "url",
  "image",
] as const;

const DEFINITIONS = [
  {
    name: "gotk_reconcile_duration_seconds",
    help: "The duration in seconds of a GitOps Toolkit resource reconciliation.",
    type: "histogram",
  },
  { name: "gotk_resource_info", help: "The current state of a GitOps Toolkit resource.", type: "gauge" },
  {
    name: "gotk_reconcile_condition",
    help: "The current condition status of a GitOps Toolkit resource reconciliation.",
    type: "gauge",
  },
  {
    name: "gotk_suspend_status",
    help: "The current suspend status of a GitOps Toolkit resource.",
    type: "gauge",
  },
] as const;

/** One cluster's gotk_* metrics. */
export class ClusterFluxSeries {
  readonly registry = new Registry();
  readonly duration = new Histogram({
    name: DEFINITIONS[0].name,
    help: DEFINITIONS[0].help,
    labelNames: ["kind", "name", "namespace", "cluster"],
    buckets: FLUX_DURATION_BUCKETS,
    registers: [this.registry],
  });
  readonly info = new Gauge({
    name: DEFINITIONS[1].name,
    help: DEFINITIONS[1].help,
    labelNames: INFO_LABELS,
    registers: [this.registry],
  });
  readonly condition = new Gauge({
    name: DEFINITIONS[2].name,
    help: DEFINITIONS[2].help,
    labelNames: ["kind", "name", "namespace", "type", "status", "cluster"],
    registers: [this.registry],
  });
  readonly suspend = new Gauge({
    name: DEFINITIONS[3].name,
    help: DEFINITIONS[3].help,
    labelNames: ["kind", "name", "namespace", "cluster"],
    registers: [this.registry],
  });
  /** Sample lines per metric, without the HELP/TYPE header; undefined once something changed. */
  private text: Map<string, string> | undefined;
  private version = 0;

  changed(): void {
    this.text = undefined;
    this.version++;
  }

  async samples(): Promise<Map<string, string>> {
    if (this.text) return this.text;
    const version = this.version;
    const text = new Map<string, string>();
    for (const { name } of DEFINITIONS) {
      const rendered = await this.registry.getSingleMetricAsString(name);
      text.set(
        name,
        rendered
          .split("\n")
          .filter((line) => line && !line.startsWith("#"))
          .join("\n"),
      );
    }
    // Kept only if nothing was recorded while it was being rendered.
    if (version === this.version) this.text = text;
    return text;
  }
}

export class FluxSeries {
  private readonly clusters = new Map<string, ClusterFluxSeries>();

  of(cluster: string): ClusterFluxSeries {
    let series = this.clusters.get(cluster);
    if (!series) {
      series = new ClusterFluxSeries();
      this.clusters.set(cluster, series);
    }
    series.changed();
    return series;
  }

  async text(): Promise<string> {
    const perCluster = await Promise.all([...this.clusters.values()].map((c) => c.samples()));
    const out: string[] = [];
    for (const { name, help, type } of DEFINITIONS) {
      const lines = perCluster.map((c) => c.get(name) ?? "").filter(Boolean);
      if (lines.length === 0) continue;
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines);
    }
    return out.length > 0 ? `${out.join("\n")}\n` : "";
  }
}
