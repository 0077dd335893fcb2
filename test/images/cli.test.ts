// `gitops-bot images scan|update` end to end: Flux objects in a checkout, images in the harness registry,
// files edited on disk.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { main } from "../../src/cli/main.js";
import { pushImageTags } from "../support/registry.js";

function captureIO() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { out: { write: (t: string) => out.push(t) }, err: { write: (t: string) => err.push(t) } },
    out: () => out.join(""),
    err: () => err.join(""),
  };
}

describe("gitops-bot images", () => {
  let dir: string;
  let host: string;
  const repository = `cli/podinfo-${Math.random().toString(36).slice(2, 8)}`;
  const deployment = (image: string) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
spec:
  template:
    spec:
      containers:
        - name: podinfo
          # updated by image automation
          image: ${image} # {"$imagepolicy": "flux-system:podinfo"}
`;

  beforeAll(async () => {
    host = inject("registryHost");
    await pushImageTags(`http://${host}`, repository, [
      "5.0.0",
      "5.1.0",
      "5.2.1",
      "6.0.0-rc.1",
      "sha256-1.sig",
      "latest",
    ]);
    dir = await mkdtemp(join(tmpdir(), "gitops-bot-images-cli-"));
    await mkdir(join(dir, ".git"));
    await mkdir(join(dir, "clusters/dev"), { recursive: true });
    await mkdir(join(dir, "apps"), { recursive: true });
    await writeFile(
      join(dir, "clusters/dev/images.yaml"),
      `apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImageRepository
metadata:
  name: podinfo
  namespace: flux-system
spec:
  image: ${host}/${repository}
  interval: 5m
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImagePolicy
metadata:
  name: podinfo
  namespace: flux-system
spec:
  imageRepositoryRef:
    name: podinfo
  policy:
    semver:
      range: 5.x
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImageUpdateAutomation
metadata:
  name: apps
  namespace: flux-system
spec:
  interval: 30m
  sourceRef:
    kind: GitRepository
    name: flux-system
  update:
    path: ./apps
    strategy: Setters
`,
    );
    // A values file without apiVersion: not Kubernetes, and a scan must not trip over it.
    await writeFile(join(dir, "clusters/dev/values.yaml"), "replicas: 3\n");
    await writeFile(join(dir, "apps/podinfo.yaml"), deployment(`${host}/${repository}:5.0.0`));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  test("scan prints the tag each policy chooses", async () => {
    const cli = captureIO();
    const code = await main(["images", "scan", join(dir, "clusters/dev")], cli.io);
    expect(cli.err()).toBe("");
    expect(code).toBe(0);
    expect(cli.out()).toMatch(
      new RegExp(
        `^POLICY\\s+IMAGE\\s+LATEST\\nflux-system/podinfo\\s+${host}/${repository}\\s+5\\.2\\.1\\n$`,
      ),
    );
  });

  test("scan -o json reports tags, exclusions and the choice", async () => {
    const cli = captureIO();
    expect(await main(["images", "scan", join(dir, "clusters/dev"), "-o", "json"], cli.io)).toBe(0);
    expect(JSON.parse(cli.out())).toEqual({
      repositories: [
        { name: "flux-system/podinfo", image: `${host}/${repository}`, tags: 5, excluded: 1, pages: 1 },
      ],
      policies: [
        { name: "flux-system/podinfo", image: `${host}/${repository}`, tag: "5.2.1", candidates: 5 },
      ],
    });
  });

  test("update edits the marked field under update.path and nothing else", async () => {
    const cli = captureIO();
    expect(await main(["images", "update", join(dir, "clusters/dev")], cli.io)).toBe(0);
    expect(cli.out()).toContain(
      `apps/podinfo.yaml:11  ${host}/${repository}:5.0.0 → ${host}/${repository}:5.2.1  (flux-system/podinfo)`,
    );
    expect(await readFile(join(dir, "apps/podinfo.yaml"), "utf8")).toBe(
      deployment(`${host}/${repository}:5.2.1`),
    );

    const again = captureIO();
    expect(await main(["images", "update", join(dir, "clusters/dev")], again.io)).toBe(0);
    expect(again.out()).toContain("no changes: every marked field is up to date");
  });

  test("usage errors exit 2", async () => {
    const cli = captureIO();
    expect(await main(["images", "frobnicate", "x"], cli.io)).toBe(2);
    expect(cli.err()).toContain('gitops-bot images: unknown command "frobnicate"');
  });
});
