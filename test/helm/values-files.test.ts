// withValuesFiles on its own (no cluster): the merge order and replace semantics of Flux's source-controller,
// and its own checks behind the repository-wide ones — a link out of the base, sizes, the total — each an error
// naming the object and field.
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { ResolvedChart } from "../../src/helm/release.js";
import { type ValuesFilesRequest, withValuesFiles } from "../../src/source/kinds/helm-chart/values-files.js";
import { writeChart } from "../support/helm-repo.js";

function chartIn(root: string): ResolvedChart {
  const path = writeChart(root, { name: "demo", version: "1.0.0", values: "color: blue\nkeep: true\n" });
  return { path, name: "demo", version: "1.0.0", source: "test", root };
}

/** A minimal ustar archive (gzipped): regular files and symlinks, names as given (hostile ones included). */
function tarGz(entries: { name: string; body?: string; link?: string }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? "");
    const header = Buffer.alloc(512);
    header.write(e.name, 0, 100);
    header.write("0000644\0", 100);
    header.write("0000000\0", 108);
    header.write("0000000\0", 116);
    header.write(`${(e.link ? 0 : body.length).toString(8).padStart(11, "0")}\0`, 124);
    header.write("00000000000\0", 136);
    header.write("        ", 148);
    header.write(e.link ? "2" : "0", 156);
    if (e.link) header.write(e.link, 157, 100);
    header.write("ustar\0", 257);
    header.write("00", 263);
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
    blocks.push(header);
    if (!e.link && body.length > 0) {
      blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
    }
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
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

  it("reads a packaged chart's values files inside the chart, and refuses an archive whose member links out", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gitops-bot-vf-archive-"));
    const chartYaml = "apiVersion: v2\nname: demo\nversion: 1.0.0\n";
    const good = join(dir, "good.tgz");
    writeFileSync(
      good,
      tarGz([
        { name: "demo/Chart.yaml", body: chartYaml },
        { name: "demo/values.yaml", body: "color: blue\n" },
        { name: "demo/values-prod.yaml", body: "color: prod\n" },
        { name: "demo/alias.yaml", link: "values-prod.yaml" },
      ]),
    );
    const cache = mkdtempSync(join(tmpdir(), "gitops-bot-vf-cache-"));
    const chart = { path: good, name: "demo", version: "1.0.0", source: "test" };
    const out = await withValuesFiles(chart, request(["alias.yaml"]), cache);
    expect(parse(readFileSync(join(out.path, "values.yaml"), "utf8"))).toEqual({ color: "prod" });
    // Relative to the chart, not to wherever the archive was unpacked.
    await expect(withValuesFiles(chart, request(["demo/values.yaml"]), cache)).rejects.toThrow(
      'no values file "demo/values.yaml" in chart demo@1.0.0',
    );

    const evil = join(dir, "evil.tgz");
    writeFileSync(
      evil,
      tarGz([
        { name: "demo/Chart.yaml", body: chartYaml },
        { name: "demo/values-prod.yaml", link: "/etc/hostname" },
      ]),
    );
    await expect(
      withValuesFiles({ ...chart, path: evil }, request(["values-prod.yaml"]), cache),
    ).rejects.toThrow(
      'chart demo@1.0.0: symlink "demo/values-prod.yaml" -> "/etc/hostname" leads outside the archive; refused',
    );
    const traversal = join(dir, "traversal.tgz");
    writeFileSync(
      traversal,
      tarGz([
        { name: "demo/Chart.yaml", body: chartYaml },
        { name: "../../escaped.yaml", body: "color: out\n" },
      ]),
    );
    await expect(
      withValuesFiles({ ...chart, path: traversal }, request(["values.yaml"]), cache),
    ).rejects.toThrow('chart demo@1.0.0: member "../../escaped.yaml" contains ".."; refused');
  });
});
