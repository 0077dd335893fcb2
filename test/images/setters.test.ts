// Setter round-trips on real manifests with comments: only marked values change, byte for byte everything
// else stays, and files outside update.path are not touched.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { localRepositoryFiles } from "../../src/images/repository-files.js";
import { applySetters, type LatestImage, parseSetterMarker } from "../../src/images/setters.js";
import { planImageUpdate } from "../../src/images/update.js";

const deployment = `# Podinfo, deployed by Flux.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo   # keep this name stable
  namespace: apps

spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: podinfo
          # the image is updated by image automation
          image: ghcr.io/stefanprodan/podinfo:5.0.0 # {"$imagepolicy": "flux-system:podinfo"}
          args: ["--level", "info"]
        - name: sidecar
          image: 'busybox:1.36.0'   # {"$imagepolicy": "flux-system:busybox"}
        - name: pinned
          image: nginx:1.25.0 # not managed
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: cache
spec:
  values:
    image:
      repository: docker.io/library/redis # {"$imagepolicy": "flux-system:redis:name"}
      tag: "7.0" # {"$imagepolicy": "flux-system:redis:tag"}
    list:
      - 6.0.0 # {"$imagepolicy": "flux-system:redis:tag"}
`;

const latest = new Map<string, LatestImage>([
  ["flux-system/podinfo", { image: "ghcr.io/stefanprodan/podinfo", tag: "5.2.1" }],
  ["flux-system/busybox", { image: "busybox", tag: "1.37.0" }],
  ["flux-system/redis", { image: "redis", tag: "7.10" }],
]);

describe("setter markers", () => {
  test.each([
    [' {"$imagepolicy": "flux-system:podinfo"}', { policy: "flux-system/podinfo", field: "image" }],
    ['{"$imagepolicy":"apps:web:tag"}', { policy: "apps/web", field: "tag" }],
    [' {"$imagepolicy": "apps:web:name"}', { policy: "apps/web", field: "name" }],
    [' {"$imagepolicy": "apps:web:digest"}', undefined],
    [' {"$imagepolicy": "web"}', undefined],
    [" just a comment", undefined],
    [' {"$imagepolicy": 3}', undefined],
  ])("%j reads as %j", (comment, expected) => {
    expect(parseSetterMarker(comment)).toEqual(expected);
  });

  test("changes only the marked values, preserving comments, order, blank lines and quoting", () => {
    const result = applySetters(deployment, "apps/podinfo.yaml", latest);
    const expected = deployment
      .replace("podinfo:5.0.0 #", "podinfo:5.2.1 #")
      .replace("'busybox:1.36.0'", "'busybox:1.37.0'")
      .replace("docker.io/library/redis #", "redis #")
      .replace('"7.0" #', '"7.10" #')
      .replace("- 6.0.0 #", '- "7.10" #');
    expect(result.text).toBe(expected);
    expect(result.changes).toEqual([
      {
        file: "apps/podinfo.yaml",
        line: 15,
        policy: "flux-system/podinfo",
        field: "image",
        from: "ghcr.io/stefanprodan/podinfo:5.0.0",
        to: "ghcr.io/stefanprodan/podinfo:5.2.1",
      },
      {
        file: "apps/podinfo.yaml",
        line: 18,
        policy: "flux-system/busybox",
        field: "image",
        from: "busybox:1.36.0",
        to: "busybox:1.37.0",
      },
      {
        file: "apps/podinfo.yaml",
        line: 29,
        policy: "flux-system/redis",
        field: "name",
        from: "docker.io/library/redis",
        to: "redis",
      },
      {
        file: "apps/podinfo.yaml",
        line: 30,
        policy: "flux-system/redis",
        field: "tag",
        from: "7.0",
        to: "7.10",
      },
      {
        file: "apps/podinfo.yaml",
        line: 32,
        policy: "flux-system/redis",
        field: "tag",
        from: "6.0.0",
        to: "7.10",
      },
    ]);
  });

  test("quotes a plain value that would otherwise read back as a number", () => {
    const result = applySetters('tag: 6.0.0 # {"$imagepolicy": "flux-system:redis:tag"}\n', "f.yaml", latest);
    expect(result.text).toBe('tag: "7.10" # {"$imagepolicy": "flux-system:redis:tag"}\n');
  });

  test("is the identity when values are current, and reports markers of unknown policies", () => {
    const current =
      'image: busybox:1.37.0 # {"$imagepolicy": "flux-system:busybox"}\nother: x # {"$imagepolicy": "flux-system:gone"}\n';
    const result = applySetters(current, "f.yaml", latest);
    expect(result.text).toBe(current);
    expect(result.changes).toEqual([]);
    expect(result.unresolved).toEqual([{ line: 2, policy: "flux-system/gone" }]);
  });
});

describe("planImageUpdate over a checkout", () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test("edits files under update.path only, and only YAML files", async () => {
    dir = await mkdtemp(join(tmpdir(), "gitops-bot-setters-"));
    const marked = 'image: busybox:1.36.0 # {"$imagepolicy": "flux-system:busybox"}\n';
    await mkdir(join(dir, "apps/dev"), { recursive: true });
    await mkdir(join(dir, "infra"), { recursive: true });
    await writeFile(join(dir, "apps/dev/app.yaml"), marked);
    await writeFile(join(dir, "apps/dev/notes.txt"), marked);
    await writeFile(join(dir, "infra/app.yml"), marked);

    const plan = await planImageUpdate(localRepositoryFiles(dir), "./apps", latest);

    expect(plan.files.map((f) => f.file)).toEqual(["apps/dev/app.yaml"]);
    expect(plan.files[0]?.after).toBe('image: busybox:1.37.0 # {"$imagepolicy": "flux-system:busybox"}\n');
    // Planning reads; it never writes.
    expect(await readFile(join(dir, "apps/dev/app.yaml"), "utf8")).toBe(marked);
    expect(await readFile(join(dir, "infra/app.yml"), "utf8")).toBe(marked);
  });

  test("refuses a path that leaves the repository", async () => {
    dir = await mkdtemp(join(tmpdir(), "gitops-bot-setters-"));
    await expect(planImageUpdate(localRepositoryFiles(dir), "../elsewhere", latest)).rejects.toThrow(
      'path "../elsewhere" leaves the repository',
    );
  });
});
