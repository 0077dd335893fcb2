// withValuesFiles on its own (no cluster): the merge order and replace semantics of Flux's source-controller,
// and its own checks behind the repository-wide ones — a link out of the base, sizes, the total — each an error
// naming the object and field.
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { ResolvedChart } from "../../src/helm/release.js";
import { type ValuesFilesRequest, withValuesFiles } from "../../src/source/kinds/helm-chart/values-files.js";
import { writeChart } from "../support/helm-repo.js";

function chartIn(root: string): ResolvedChart {
  const path = writeChart(root, { name: "demo", version: "1.0.0", values: "color: blue\nkeep: true\n" });
  return { path, name: "demo", version: "1.0.0", source: "test", root };
}

const request = (files: string[], ignoreMissing = false): ValuesFilesRequest => ({
  files: files.map((path, i) => ({ path, field: `spec.valuesFiles[${i}]` })),
  ignoreMissing,
  where: { file: "clusters/dev/chart.yaml", object: "HelmChart/apps/demo" },
});

describe("withValuesFiles", () => {
  it("merges the files in order into a copy whose values.yaml they replace, and leaves the source alone", async () => {
    const root = mkdtempSync(join(tmpdir(), "gitops-bot-vf-"));
    const chart = chartIn(root);
    writeFileSync(join(root, "a.yaml"), "color: a\nnested:\n  x: 1\n  y: 1\n");
    writeFileSync(join(root, "b.yaml"), "nested:\n  y: 2\nlist: [1]\n");
    const cache = mkdtempSync(join(tmpdir(), "gitops-bot-vf-cache-"));
    const out = await withValuesFiles(chart, request(["a.yaml", "./b.yaml"]), cache);
    expect(out.path).not.toBe(chart.path);
    expect(out.valuesFiles).toEqual(["a.yaml", "./b.yaml"]);
    expect(out.valuesFilesDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    // values.yaml was not listed: its keys are gone, as in Flux.
    expect(parse(readFileSync(join(out.path, "values.yaml"), "utf8"))).toEqual({
      color: "a",
      nested: { x: 1, y: 2 },
      list: [1],
    });
    expect(readFileSync(join(out.path, "templates/configmap.yaml"), "utf8")).toContain("ConfigMap");
    expect(readFileSync(join(chart.path, "values.yaml"), "utf8")).toBe("color: blue\nkeep: true\n");
    // Applied once: a second call changes nothing.
    expect(await withValuesFiles(out, request(["a.yaml"]), cache)).toBe(out);
    // Same content, same copy (cache key of chart content and merge).
    expect((await withValuesFiles(chart, request(["a.yaml", "./b.yaml"]), cache)).path).toBe(out.path);
  });

  it("leaves missing files out with ignoreMissing, else names the file and field", async () => {
    const root = mkdtempSync(join(tmpdir(), "gitops-bot-vf-"));
    const chart = chartIn(root);
    const cache = mkdtempSync(join(tmpdir(), "gitops-bot-vf-cache-"));
    await expect(withValuesFiles(chart, request(["demo/values.yaml", "nope.yaml"]), cache)).rejects.toThrow(
      'clusters/dev/chart.yaml: HelmChart/apps/demo: spec.valuesFiles[1]: no values file "nope.yaml" in the source',
    );
    const out = await withValuesFiles(chart, request(["demo/values.yaml", "nope.yaml"], true), cache);
    expect(out.valuesFiles).toEqual(["demo/values.yaml"]);
  });

  it("refuses a link out of the source even where no repository check ran, and never reads it", async () => {
    const outside = mkdtempSync(join(tmpdir(), "gitops-bot-vf-outside-"));
    writeFileSync(join(outside, "secret.yaml"), "token: canary-outside\n");
    const root = mkdtempSync(join(tmpdir(), "gitops-bot-vf-"));
    const chart = chartIn(root);
    symlinkSync(join(outside, "secret.yaml"), join(root, "link.yaml"));
    const cache = mkdtempSync(join(tmpdir(), "gitops-bot-vf-cache-"));
    await expect(withValuesFiles(chart, request(["link.yaml"]), cache)).rejects.toThrow(
      'spec.valuesFiles[0]: "link.yaml" leads out of the source through a symbolic link; refused',
    );
  });

  it("refuses a chart that links out of its source when it is copied", async () => {
    const outside = mkdtempSync(join(tmpdir(), "gitops-bot-vf-outside-"));
    writeFileSync(join(outside, "host.txt"), "canary-host\n");
    const root = mkdtempSync(join(tmpdir(), "gitops-bot-vf-"));
    const chart = chartIn(root);
    mkdirSync(join(chart.path, "files"));
    symlinkSync(join(outside, "host.txt"), join(chart.path, "files/host.txt"));
    writeFileSync(join(root, "a.yaml"), "color: a\n");
    const cache = mkdtempSync(join(tmpdir(), "gitops-bot-vf-cache-"));
    await expect(withValuesFiles(chart, request(["a.yaml"]), cache)).rejects.toThrow(
      "chart demo@1.0.0: files/host.txt is a symbolic link out of the chart's source; refused",
    );
  });

  it("bounds one file and all files together", async () => {
    const root = mkdtempSync(join(tmpdir(), "gitops-bot-vf-"));
    const chart = chartIn(root);
    writeFileSync(join(root, "a.yaml"), `a: "${"x".repeat(600)}"\n`);
    writeFileSync(join(root, "b.yaml"), `b: "${"x".repeat(600)}"\n`);
    const cache = mkdtempSync(join(tmpdir(), "gitops-bot-vf-cache-"));
    await expect(withValuesFiles(chart, request(["a.yaml"]), cache, { maxFileBytes: 500 })).rejects.toThrow(
      'spec.valuesFiles[0]: "a.yaml" is larger than 500 bytes; refused',
    );
    await expect(
      withValuesFiles(chart, request(["a.yaml", "b.yaml"]), cache, { maxTotalBytes: 1000 }),
    ).rejects.toThrow("spec.valuesFiles[1]: the values files together are larger than 1000 bytes; refused");
    await expect(withValuesFiles(chart, request(["a.yaml"]), cache, { maxChartFiles: 2 })).rejects.toThrow(
      "chart demo@1.0.0: more than 2 files; refused",
    );
  });

  it("refuses a file that is not a YAML mapping", async () => {
    const root = mkdtempSync(join(tmpdir(), "gitops-bot-vf-"));
    const chart = chartIn(root);
    writeFileSync(join(root, "list.yaml"), "- a\n- b\n");
    const cache = mkdtempSync(join(tmpdir(), "gitops-bot-vf-cache-"));
    await expect(withValuesFiles(chart, request(["list.yaml"]), cache)).rejects.toThrow(
      'spec.valuesFiles[0]: "list.yaml" is not a YAML mapping',
    );
  });
});
