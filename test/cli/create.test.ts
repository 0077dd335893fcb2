// `gitops-bot create …` writes Flux-format YAML that the engine's own parsers accept.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, test } from "vitest";
import { parse } from "yaml";
import { goDuration } from "../../src/cli/create.js";
import { main } from "../../src/cli/main.js";

async function create(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(["create", ...args], {
    out: { write: (t: string) => (out += t) },
    err: { write: (t: string) => (err += t) },
  });
  return { code, out, err };
}

describe("gitops-bot create", () => {
  test.each([
    ["1m", "1m0s"],
    ["10m", "10m0s"],
    ["90s", "1m30s"],
    ["2h", "2h0m0s"],
    ["30s", "30s"],
  ])("writes interval %s as %s", (given, expected) => {
    expect(goDuration(given)).toBe(expected);
  });

  it("writes a GitRepository as flux create source git --export does", async () => {
    const { code, out } = await create([
      "source",
      "git",
      "podinfo",
      "--url",
      "https://github.com/stefanprodan/podinfo",
      "--branch",
      "master",
    ]);
    expect(code).toBe(0);
    expect(out).toBe(`---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: podinfo
  namespace: flux-system
spec:
  interval: 1m0s
  ref:
    branch: master
  url: https://github.com/stefanprodan/podinfo
`);
  });

  it("writes HelmRepository (oci detected), OCIRepository, Kustomization, HelmRelease and image objects", async () => {
    const helm = parse(
      (await create(["source", "helm", "charts", "--url", "oci://ghcr.io/acme/charts"])).out,
    );
    expect(helm.spec).toEqual({ interval: "1m0s", type: "oci", url: "oci://ghcr.io/acme/charts" });

    const oci = parse(
      (await create(["source", "oci", "manifests", "--url", "oci://r/m", "--tag-semver", "1.x"])).out,
    );
    expect(oci.spec.ref).toEqual({ semver: "1.x" });

    const ks = parse(
      (
        await create([
          "kustomization",
          "apps",
          "--path",
          "./apps",
          "--prune",
          "--depends-on",
          "infra",
          "-n",
          "team",
        ])
      ).out,
    );
    expect(ks).toMatchObject({
      metadata: { name: "apps", namespace: "team" },
      spec: {
        interval: "10m0s",
        prune: true,
        path: "./apps",
        sourceRef: { kind: "GitRepository", name: "flux-system" },
        dependsOn: [{ name: "infra" }],
      },
    });

    const dir = mkdtempSync(join(tmpdir(), "gitops-bot-create-"));
    writeFileSync(join(dir, "values.yaml"), "replicaCount: 2\n");
    const hr = parse(
      (
        await create([
          "helmrelease",
          "podinfo",
          "--source",
          "HelmRepository/podinfo",
          "--chart",
          "podinfo",
          "--chart-version",
          ">=6.0.0",
          "--values",
          join(dir, "values.yaml"),
          "--values-from",
          "Secret/creds",
          "--crds",
          "CreateReplace",
        ])
      ).out,
    );
    expect(hr).toMatchObject({
      apiVersion: "helm.toolkit.fluxcd.io/v2",
      spec: {
        chart: {
          spec: {
            chart: "podinfo",
            version: ">=6.0.0",
            sourceRef: { kind: "HelmRepository", name: "podinfo" },
          },
        },
        values: { replicaCount: 2 },
        valuesFrom: [{ kind: "Secret", name: "creds" }],
        install: { crds: "CreateReplace" },
      },
    });

    const policy = parse(
      (await create(["image", "policy", "app", "--image-ref", "app", "--select-numeric", "asc"])).out,
    );
    expect(policy.spec).toEqual({
      imageRepositoryRef: { name: "app" },
      policy: { numerical: { order: "asc" } },
    });
  });

  it("writes into the repository with --file and refuses to overwrite without --force", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "gitops-bot-create-")), "clusters/dev/source.yaml");
    const args = [
      "source",
      "git",
      "app",
      "--url",
      "https://example.com/app.git",
      "--tag",
      "v1.0.0",
      "--file",
      file,
    ];
    expect((await create(args)).code).toBe(0);
    expect(parse(readFileSync(file, "utf8")).spec.ref).toEqual({ tag: "v1.0.0" });
    const again = await create(args);
    expect(again.code).toBe(2);
    expect(again.err).toContain("exists; pass --force to overwrite");
    expect((await create([...args, "--force"])).code).toBe(0);
  });

  test.each([
    [["source", "git", "x"], "--url is required"],
    [["source", "git", "x", "--url", "ftp://x"], "spec.url: must start with http://, https:// or ssh://"],
    [["source", "git", "x", "--url", "https://x", "--tag", "a", "--branch", "b"], "use only one of"],
    [
      ["helmrelease", "x", "--chart", "c", "--source", "Bucket/b"],
      "--source must be <HelmRepository|GitRepository>/<name>",
    ],
    [["kustomization", "Bad_Name", "--path", "."], "is not a valid name"],
    [["image", "policy", "p", "--image-ref", "r"], "one of --select-semver"],
    [
      ["image", "repository", "r", "--image", "ghcr.io/x/y", "-n", "../kube-system"],
      `<create>: ImageRepository/"../kube-system"/r: metadata.namespace: "../kube-system" is not a valid namespace`,
    ],
    [
      ["source", "git", "x", "--url", "https://x/r.git", "--branch=--upload-pack=touch /tmp/x"],
      `spec.ref.branch: "--upload-pack=touch /tmp/x" is not a valid git branch name (must not begin with '-')`,
    ],
    [["kustomization", "k", "--path", "../../etc"], `spec.path: "../../etc" is not a valid path`],
  ])("%j fails with a clear message", async (args, message) => {
    const { code, err } = await create(args);
    expect(code).toBe(2);
    expect(err).toContain(message);
  });
});
