// ArtifactGenerator / ExternalArtifact: the generator's artifacts assembled from this repository by alias,
// with Flux's revision (`latest@sha256:<content digest>`), through the SourceResolver. The fleet built and
// reconciled end to end: artifact-generator-fleet.test.ts.
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { FluxHelmRelease } from "../../src/flux/helm-release.js";
import { parseSource } from "../../src/flux/sources.js";
import { noSecrets } from "../../src/source/credentials.js";
import { SourceResolver } from "../../src/source/resolver.js";
import { makeRepo, writeTree } from "../support/repo-tree.js";
import { generatorYaml, makeFleet } from "./artifact-generator-fixture.js";

function resolverFor(repo: string): SourceResolver {
  const resolver = new SourceResolver({
    selfSourceNames: ["flux-system"],
    selfDir: repo,
    cacheDir: mkdtempSync(join(tmpdir(), "gitops-bot-ag-cache-")),
    secrets: noSecrets,
  });
  const file = "clusters/staging/generator.yaml";
  resolver.declare(parseSource(parse(readFileSync(join(repo, file), "utf8")), file));
  return resolver;
}

async function generated(resolver: SourceResolver, name: string) {
  const source = resolver.find({ kind: "ExternalArtifact", name }, "flux-system");
  if (!source) throw new Error(`ExternalArtifact ${name} not declared`);
  return resolver.artifact(source);
}

describe("ArtifactGenerator", () => {
  it("assembles one directory per artifact from the repository, by alias, with excludes", async () => {
    const repo = makeFleet("demo");
    const resolver = resolverFor(repo);
    const infra = await generated(resolver, "infrastructure");
    expect(readFileSync(join(infra.dir, "controllers/settings.yaml"), "utf8")).toContain("infra-settings");
    expect(existsSync(join(infra.dir, "apps"))).toBe(false);
    const apps = await generated(resolver, "apps");
    expect(existsSync(join(apps.dir, "base/podinfo.yaml"))).toBe(true);
    expect(existsSync(join(apps.dir, "staging/kustomization.yaml"))).toBe(true);
    expect(existsSync(join(apps.dir, "base/README.md"))).toBe(false);
    expect(existsSync(join(apps.dir, "controllers"))).toBe(false);
    expect(apps.revision).toMatch(/^latest@sha256:[0-9a-f]{64}$/);
    expect(infra.revision).not.toBe(apps.revision);
    const results = resolver.results().map((r) => `${r.kind}/${r.name} ${r.revision}`);
    expect(results).toContain(`ExternalArtifact/apps ${apps.revision}`);
  });

  it("reports a revision that follows the content: same files, same revision; a change, a new one", async () => {
    const a = makeFleet("demo");
    const b = makeFleet("demo");
    const first = await generated(resolverFor(a), "apps");
    expect((await generated(resolverFor(b), "apps")).revision).toBe(first.revision);
    writeTree(b, {
      "apps/base/podinfo.yaml": readFileSync(join(b, "apps/base/podinfo.yaml"), "utf8").replace(
        "blue",
        "red",
      ),
    });
    const changed = await generated(resolverFor(b), "apps");
    expect(changed.revision).not.toBe(first.revision);
    // Only the artifact whose files changed gets a new revision.
    expect((await generated(resolverFor(b), "infrastructure")).revision).toBe(
      (await generated(resolverFor(a), "infrastructure")).revision,
    );
    // A README excluded from the artifact changes nothing.
    writeTree(a, { "apps/base/README.md": "# edited\n" });
    expect((await generated(resolverFor(a), "apps")).revision).toBe(first.revision);
  });

  it("serves a HelmRelease chartRef of kind ExternalArtifact: the chart at the artifact's root", async () => {
    const repo = makeRepo({
      "clusters/staging/generator.yaml": generatorYaml({
        artifacts: `    - name: podinfo-chart
      copy:
        - from: "@repo/charts/podinfo/**"
          to: "@artifact/"
        - from: "@repo/values/staging.yaml"
          to: "@artifact/values.yaml"`,
      }),
      "charts/podinfo/Chart.yaml": "apiVersion: v2\nname: podinfo\nversion: 6.5.0\n",
      "charts/podinfo/values.yaml": "replicas: 1\n",
      "charts/podinfo/templates/cm.yaml": "kind: ConfigMap\n",
      "values/staging.yaml": "replicas: 3\n",
    });
    const hr = {
      name: "podinfo",
      namespace: "flux-system",
      file: "clusters/staging/podinfo.yaml",
      spec: { chartRef: { kind: "ExternalArtifact", name: "podinfo-chart" } },
    } as unknown as FluxHelmRelease;
    const chart = await resolverFor(repo).chart(hr);
    expect(chart.name).toBe("podinfo");
    expect(chart.version).toBe("6.5.0");
    expect(chart.source).toMatch(/^ExternalArtifact\/flux-system\/podinfo-chart@latest@sha256:[0-9a-f]{64}$/);
    expect(readFileSync(join(chart.path, "values.yaml"), "utf8")).toBe("replicas: 3\n");
    expect(existsSync(join(chart.path, "templates/cm.yaml"))).toBe(true);
  });
});
