// Red team, round 2: attacks on this round's new surfaces through the real entry points. Each test asserts the
// safe outcome; a failing test here is a real vulnerability (see the round's report).
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import type { KubernetesObject } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { RemoteKubeConfigError, remoteKubeConfig } from "../../src/cluster/remote-kubeconfig.js";
import { defaultReconcileOptions, reconcileTree } from "../../src/reconcile/run.js";
import { createOutboundPolicy } from "../../src/util/outbound/policy.js";
import { externalKustomization, generatorYaml } from "../source/artifact-generator-fixture.js";
import { cli } from "../support/cli.js";
import { installFluxCrds, writeStatus } from "../support/flux-controller.js";
import { createNamespace, exists, testObjectApi, uniqueName } from "../support/kube.js";
import { configMap, fluxKustomization, makeRepo } from "../support/repo-tree.js";
import { ageKeyPair, sopsEncrypt } from "../support/sops.js";

// 4. kustomize runs without its load restrictor; the reference checker must see every path kustomize will load.
describe("kustomize field spellings the reference checker must also read", () => {
  const CANARY = `rt2-canary-${Date.now()}`;
  const outsideDir = mkdtempSync(join(tmpdir(), "rt2-outside-"));
  const outsideFile = join(outsideDir, "secret.txt");
  writeFileSync(outsideFile, `${CANARY}\n`);

  // kustomize decodes kustomization.yaml with Go's encoding/json after YAMLToJSON: field names match
  // case-insensitively, and go-yaml v2 applies YAML 1.1 merge keys (`<<`). The yaml package reads neither.
  it.each([
    [
      "Resources/ConfigMapGenerator (capitalised field names)",
      (rel: string) =>
        `Resources:\n  - cm.yaml\nConfigMapGenerator:\n  - name: x\n    files:\n      - ${rel}\n`,
    ],
    [
      "configMapGenerator[].Files (capitalised nested field)",
      (rel: string) =>
        `resources:\n  - cm.yaml\nconfigMapGenerator:\n  - name: x\n    Files:\n      - ${rel}\n`,
    ],
    [
      "RESOURCES naming a file outside",
      (rel: string) => `RESOURCES:\n  - cm.yaml\n  - ${rel.replace("secret.txt", "res.yaml")}\n`,
    ],
    [
      "a YAML merge key (<<) holding configMapGenerator",
      (rel: string) => `resources:\n  - cm.yaml\n<<: {configMapGenerator: [{name: x, files: [${rel}]}]}\n`,
    ],
    [
      "a merge key through an anchor",
      (rel: string) =>
        `resources:\n  - cm.yaml\nnamePrefix: &p dev-\nconfigMapGenerator:\n  - name: x\n    <<: {files: [${rel}]}\n`,
    ],
    [
      "an absolute path under SecretGenerator.Envs",
      () => `resources:\n  - cm.yaml\nSecretGenerator:\n  - name: x\n    Envs:\n      - ${outsideFile}\n`,
    ],
  ])("%s: the canary outside the repository never appears", async (_name, kustomization) => {
    writeFileSync(
      join(outsideDir, "res.yaml"),
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leaked\ndata:\n  v: ${CANARY}\n`,
    );
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({ name: "apps", namespace: "flux-system", path: "./apps" }),
      "apps/cm.yaml": configMap("settings", { color: "blue" }),
    });
    const rel = relative(join(repo, "apps"), outsideFile);
    writeFileSync(join(repo, "apps/kustomization.yaml"), kustomization(rel));
    const { code, out, err } = await cli(["build", join(repo, "clusters/dev"), "--repo", repo]);
    expect(out + err).not.toContain(CANARY);
    expect(Buffer.from(`${CANARY}\n`).toString("base64").slice(0, 16)).not.toSatisfy((b: string) =>
      (out + err).includes(b),
    );
    expect(code).not.toBe(0);
  });

  it("a built-in plugin configuration with capitalised Files cannot read outside", async () => {
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({ name: "apps", namespace: "flux-system", path: "./apps" }),
      "apps/cm.yaml": configMap("settings", { color: "blue" }),
    });
    const rel = relative(join(repo, "apps"), outsideFile);
    writeFileSync(
      join(repo, "apps/gen.yaml"),
      `apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata:\n  name: x\nFiles:\n  - ${rel}\n`,
    );
    writeFileSync(
      join(repo, "apps/kustomization.yaml"),
      "resources:\n  - cm.yaml\ngenerators:\n  - gen.yaml\n",
    );
    const { code, out, err } = await cli(["build", join(repo, "clusters/dev"), "--repo", repo]);
    expect(out + err).not.toContain(CANARY);
    expect(code).not.toBe(0);
  });
});

// 1. SOPS: the object's own `sops` metadata is repository content. sops tries every master key it lists (AWS KMS,
// GCP KMS, Azure Key Vault, HashiCorp Vault) with the bot's ambient identity (cloud metadata server) and at the
// address the metadata names — outside the outbound policy. Only the age keys of spec.decryption.secretRef may be
// used, so sops must never be handed other key kinds.
describe("SOPS metadata naming other key services", () => {
  it("a same-repository preview makes sops contact no Vault address (nor the metadata server) that the object names", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "rt2sops");
    const work = mkdtempSync(join(tmpdir(), "rt2-sops-"));
    const { key, recipient } = await ageKeyPair(work);
    await api.create({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "sops-age", namespace: ns },
      stringData: { "age.agekey": key },
    } as KubernetesObject);
    const encrypted = (await sopsEncrypt(
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "db" },
        stringData: { password: "rt2-sops-value" },
      } as KubernetesObject,
      recipient,
      work,
    )) as KubernetesObject & { sops: Record<string, unknown> };
    const hits: string[] = [];
    const server = createServer((req, res) => {
      hits.push(`${req.method} ${req.url}`);
      res.writeHead(500).end("internal-service-body");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    const created = String(encrypted.sops.lastmodified);
    // The attacker's version: the age stanza removed, a Vault transit key at an address of their choosing.
    const { age: _age, ...rest } = encrypted.sops;
    const evil = {
      ...encrypted,
      sops: {
        ...rest,
        hc_vault: [
          {
            vault_address: `http://127.0.0.1:${port}`,
            engine_path: "sops",
            key_name: "k",
            created_at: created,
            enc: "vault:v1:abc",
          },
        ],
      },
    };
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./apps",
        extra: `  targetNamespace: ${ns}\n  decryption:\n    provider: sops\n    secretRef:\n      name: sops-age\n`,
      }),
      "apps/kustomization.yaml": "resources:\n  - db.yaml\n",
      "apps/db.yaml": stringify(evil),
    });
    try {
      const result = await reconcileTree(api, {
        ...defaultReconcileOptions(repo, "clusters/dev"),
        scope: uniqueName("scope"),
        dryRun: true,
        withDiff: true,
      });
      expect(JSON.stringify(result)).not.toContain("internal-service-body");
      expect(hits).toEqual([]);
    } finally {
      server.close();
    }
  }, 60_000);

  it("a Secret re-kinded as a ConfigMap in a same-repository PR still has its decrypted value masked", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "rt2sops");
    const work = mkdtempSync(join(tmpdir(), "rt2-sops-"));
    const { key, recipient } = await ageKeyPair(work);
    await api.create({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "sops-age", namespace: ns },
      stringData: { "age.agekey": key },
    } as KubernetesObject);
    const VALUE = `rt2-rekind-${Date.now()}`;
    const encrypted = await sopsEncrypt(
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "db" },
        data: { password: Buffer.from(VALUE).toString("base64") },
      } as KubernetesObject,
      recipient,
      work,
    );
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./apps",
        extra: `  targetNamespace: ${ns}\n  decryption:\n    provider: sops\n    secretRef:\n      name: sops-age\n`,
      }),
      "apps/kustomization.yaml": "resources:\n  - db.yaml\n",
      "apps/db.yaml": stringify({ ...encrypted, kind: "ConfigMap" }),
    });
    const result = await reconcileTree(api, {
      ...defaultReconcileOptions(repo, "clusters/dev"),
      scope: uniqueName("scope"),
      dryRun: true,
      withDiff: true,
    });
    const text = JSON.stringify(result);
    expect(text).not.toContain(VALUE);
    expect(text).not.toContain(Buffer.from(VALUE).toString("base64"));
  }, 60_000);
});

// 6. healthCheckExprs are repository content evaluated synchronously in the bot's process: nested
// comprehensions over literal lists cost n^depth steps whatever the object's size, and a synchronous evaluation
// stalls every other repository's work on the same event loop.
describe("healthCheckExprs cost", () => {
  it("a nested comprehension cannot stall the bot's event loop for seconds", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "rt2cel");
    const list = `[${Array.from({ length: 25 }, (_, i) => i).join(",")}]`;
    // 25^5 ≈ 9.8 million steps: seconds of CPU for a 700-character expression (one more level: minutes).
    const expr = `${list}.all(a, ${list}.all(b, ${list}.all(c, ${list}.all(d, ${list}.all(e, true)))))`;
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./apps",
        extra: `  targetNamespace: ${ns}\n  wait: true\n  timeout: 5s\n  healthCheckExprs:\n    - apiVersion: v1\n      kind: ConfigMap\n      current: ${JSON.stringify(expr)}\n`,
      }),
      "apps/cm.yaml": configMap("settings", { color: "blue" }),
    });
    let last = Date.now();
    let worstStall = 0;
    const timer = setInterval(() => {
      const now = Date.now();
      worstStall = Math.max(worstStall, now - last);
      last = now;
    }, 50);
    const started = Date.now();
    try {
      await reconcileTree(api, {
        ...defaultReconcileOptions(repo, "clusters/dev"),
        scope: uniqueName("scope"),
      });
    } finally {
      clearInterval(timer);
    }
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(worstStall).toBeLessThan(2_000);
  }, 120_000);
});

// 3. ArtifactGenerator globs become JavaScript regular expressions (backtracking): `*a*a*a…` against a long file
// name is exponential-ish, synchronous, and both the glob and the file names come from a fork's pull request.
describe("ArtifactGenerator glob cost", () => {
  it("a glob of many * against a long file name ends within its bound", async () => {
    const name = "a".repeat(44);
    const repo = makeRepo({
      "clusters/staging/generator.yaml": generatorYaml({
        artifacts: `    - name: apps\n      copy:\n        - from: "@repo/apps/${"*a".repeat(8)}*b"\n          to: "@artifact/"\n          optional: true\n`,
      }),
      "clusters/staging/apps.yaml": externalKustomization("apps", "./"),
      [`apps/${name}`]: "x\n",
      "apps/cm.yaml": configMap("settings", { color: "blue" }),
    });
    const started = Date.now();
    await cli(["build", "clusters/staging", "--repo", repo]);
    expect(Date.now() - started).toBeLessThan(5_000);
  }, 300_000);
});

// 5. The cluster root: plain objects in the cluster path are applied by a root Kustomization flux-system/flux-system
// that the plan adds itself, whose inventory (flux-system/gitops-bot-inventory-flux-system) is one per cluster.
describe("the cluster root under a tenant grant", () => {
  const tenantPolicy = (namespaces: string[]) => ({
    tenant: "repository acme/tenant on cluster dev",
    clusterScoped: false,
    crossNamespaceRefs: false,
    namespaces,
  });

  it("a tenant's plain cluster-path objects outside its namespaces and cluster-scoped ones are refused", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "rt2tenant");
    const other = await createNamespace(api, "rt2other");
    const role = uniqueName("rt2-role");
    const repo = makeRepo({
      "clusters/dev/role.yaml": `apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: ${role}\nrules: []\n`,
      "clusters/dev/elsewhere.yaml": configMap("planted", { a: "1" }, other),
      "clusters/dev/home.yaml": configMap("home", { a: "1" }, ns),
    });
    const result = await reconcileTree(api, {
      ...defaultReconcileOptions(repo, "clusters/dev"),
      scope: uniqueName("tenant-scope"),
      tenancy: tenantPolicy([ns]),
    });
    expect(JSON.stringify(result.kustomizations)).toMatch(/is not allowed for repository acme\/tenant/);
    const read = (o: Parameters<typeof api.read>[0]) =>
      api.read(o).then(
        () => true,
        () => false,
      );
    expect(
      await read({
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRole",
        metadata: { name: role },
      }),
    ).toBe(false);
    expect(
      await read({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "planted", namespace: other } }),
    ).toBe(false);
  }, 120_000);

  it("a tenant repository cannot claim the root inventory flux-system/flux-system (the platform's root keeps working)", async () => {
    const api = testObjectApi();
    const ns = await createNamespace(api, "rt2tenant");
    const platformNs = await createNamespace(api, "rt2platform");
    const tenantRepo = makeRepo({ "clusters/dev/home.yaml": configMap("home", { a: "1" }, ns) });
    const platformRepo = makeRepo({ "clusters/dev/vars.yaml": configMap("vars", { a: "1" }, platformNs) });
    const inventoryRef = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "gitops-bot-inventory-flux-system", namespace: "flux-system" },
    };
    await api.delete(inventoryRef).catch(() => undefined);
    try {
      await reconcileTree(api, {
        ...defaultReconcileOptions(tenantRepo, "clusters/dev"),
        scope: uniqueName("tenant-scope"),
        tenancy: tenantPolicy([ns]),
      });
      const platform = await reconcileTree(api, {
        ...defaultReconcileOptions(platformRepo, "clusters/dev"),
        scope: uniqueName("platform-scope"),
      });
      expect(JSON.stringify(platform.kustomizations.map((k) => k.errors ?? k))).not.toMatch(
        /already managed from/,
      );
      expect(
        await api
          .read({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "vars", namespace: platformNs } })
          .then(
            () => true,
            () => false,
          ),
      ).toBe(true);
    } finally {
      await api.delete(inventoryRef).catch(() => undefined);
    }
  }, 120_000);
});

// 2. spec.kubeConfig.secretRef: URL forms that might pass the operator's list yet reach another host.
describe("remote kubeconfig server forms", () => {
  const allowed = ["https://k8s.example.com:6443"];
  const kubeconfig = (server: string, user = "token: t") =>
    `apiVersion: v1\nkind: Config\nclusters:\n  - name: c\n    cluster:\n      server: ${JSON.stringify(server)}\ncontexts:\n  - name: x\n    context: {cluster: c, user: u}\ncurrent-context: x\nusers:\n  - name: u\n    user: {${user}}\n`;

  it.each([
    "https://k8s.example.com:6443@evil.example.net:6443",
    "https://evil.example.net:6443/#@k8s.example.com:6443",
    "https://k8s.example.com.evil.example.net:6443",
    "https://k8s.example.com:6443?x=@evil.example.net",
    "https://user:pw@k8s.example.com:6443",
    "https://k8s.example.com.:6443",
    "https://[::ffff:7f00:1]:6443",
    "https://k8s.example.com:443",
    "HTTPS://K8S.EXAMPLE.COM:06443/",
    "https://k8s.example.com:6443/..%2f..%2f",
    "http://k8s.example.com:6443",
  ])("%s is refused or reaches only the listed host and port", (server) => {
    let kc: ReturnType<typeof remoteKubeConfig> | undefined;
    try {
      kc = remoteKubeConfig(kubeconfig(server), "test", allowed);
    } catch (err) {
      expect(err).toBeInstanceOf(RemoteKubeConfigError);
      return;
    }
    const url = new URL(kc.getCurrentCluster()?.server ?? "");
    expect(`${url.protocol}//${url.hostname}:${url.port}`).toBe("https://k8s.example.com:6443");
    expect(kc.getCurrentCluster()?.skipTLSVerify).toBe(false);
  });

  it.each([
    "exec: {command: /bin/sh, apiVersion: client.authentication.k8s.io/v1}",
    "auth-provider: {name: gcp}",
    "tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token",
    "client-certificate: /etc/ssl/private/key.pem",
    "<<: {exec: {command: /bin/sh}}",
    "Exec: {command: /bin/sh}",
  ])("users[].user with %s is refused", (user) => {
    expect(() => remoteKubeConfig(kubeconfig("https://k8s.example.com:6443", user), "test", allowed)).toThrow(
      RemoteKubeConfigError,
    );
  });

  it("a YAML alias bomb is refused quickly", () => {
    const bomb = `a: &a ["x","x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n${kubeconfig("https://k8s.example.com:6443")}`;
    const started = Date.now();
    expect(() => remoteKubeConfig(bomb, "test", allowed)).toThrow(RemoteKubeConfigError);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

// 4b. With the operator's security.remoteKustomizeResources on (default-branch writers and same-repository PRs),
// the reference checker lets every URL through to kustomize, which fetches it itself: the outbound policy (deny
// lists, link-local/metadata addresses) is never consulted, and a configMapGenerator file from a URL lands in
// the preview verbatim.
describe("remote kustomize resources and the outbound policy", () => {
  it("a configMapGenerator file URL to a denied address is refused, and its body never appears", async () => {
    const BODY = `AccessKeyId-rt2-${Date.now()}`;
    const hits: string[] = [];
    const server = createServer((req, res) => {
      hits.push(`${req.method} ${req.url}`);
      res.writeHead(200).end(`${BODY}\n`);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    const api = testObjectApi();
    const ns = await createNamespace(api, "rt2remote");
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./apps",
        extra: `  targetNamespace: ${ns}\n`,
      }),
      "apps/kustomization.yaml": `resources:\n  - cm.yaml\nconfigMapGenerator:\n  - name: x\n    files:\n      - http://127.0.0.1:${port}/latest/meta-data/iam/security-credentials/role\n`,
      "apps/cm.yaml": configMap("settings", { color: "blue" }),
    });
    try {
      const base = defaultReconcileOptions(repo, "clusters/dev");
      const result = await reconcileTree(api, {
        ...base,
        scope: uniqueName("scope"),
        dryRun: true,
        withDiff: true,
        kustomize: { ...base.kustomize, allowRemoteResources: true },
        outbound: createOutboundPolicy({ deny: ["127.0.0.0/8", "::1/128"] }),
      });
      expect(JSON.stringify(result)).not.toContain(BODY);
      expect(hits).toEqual([]);
    } finally {
      server.close();
    }
  }, 60_000);
});

describe("a fork's preview and the kustomize field spellings", () => {
  it("a fork's dry-run with a capitalised ConfigMapGenerator never shows a file outside the repository", async () => {
    const CANARY = `rt2-fork-canary-${Date.now()}`;
    const outside = mkdtempSync(join(tmpdir(), "rt2-fork-outside-"));
    writeFileSync(join(outside, "token"), `${CANARY}\n`);
    const api = testObjectApi();
    const ns = await createNamespace(api, "rt2fork");
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./apps",
        extra: `  targetNamespace: ${ns}\n`,
      }),
      "apps/cm.yaml": configMap("settings", { color: "blue" }),
      // An absolute path: the bot's own files (a mounted ServiceAccount token, the app's key) are as reachable.
      "apps/kustomization.yaml": `resources:\n  - cm.yaml\nConfigMapGenerator:\n  - name: x\n    files:\n      - ${join(outside, "token")}\n`,
    });
    const result = await reconcileTree(api, {
      ...defaultReconcileOptions(repo, "clusters/dev"),
      scope: uniqueName("scope"),
      dryRun: true,
      withDiff: true,
      untrusted: true,
    });
    expect(JSON.stringify(result)).not.toContain(CANARY);
  }, 60_000);
});

// 7. Flux inventory import: a Flux Kustomization's status written by whoever may write in its namespace lists
// objects of another namespace and a cluster-scoped one; the bot's first reconcile must delete neither.
describe("a crafted Flux inventory", () => {
  it("lists another namespace's object and a ClusterRole: neither is pruned", async () => {
    const api = testObjectApi();
    await installFluxCrds(api);
    const ns = await createNamespace(api, "rt2flux");
    const victim = await createNamespace(api, "rt2victim");
    const role = uniqueName("rt2-victim-role");
    await api.create({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "precious", namespace: victim },
      data: { y: "1" },
    } as KubernetesObject);
    await api.create({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: role },
      rules: [],
    } as KubernetesObject);
    const entries = [
      { id: `${victim}_precious__ConfigMap`, v: "v1" },
      { id: `_${role}_rbac.authorization.k8s.io_ClusterRole`, v: "v1" },
    ];
    await api.create({
      apiVersion: "kustomize.toolkit.fluxcd.io/v1",
      kind: "Kustomization",
      metadata: { name: "apps", namespace: ns },
      spec: {
        interval: "10m",
        path: "./apps",
        prune: true,
        sourceRef: { kind: "GitRepository", name: "flux-system" },
      },
    } as KubernetesObject);
    await writeStatus("/apis/kustomize.toolkit.fluxcd.io/v1", ns, "kustomizations", "apps", {
      inventory: { entries },
    });
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./apps",
        extra: `  targetNamespace: ${ns}\n`,
      }),
      "apps/settings.yaml": configMap("settings", { a: "1" }),
    });
    await reconcileTree(api, {
      ...defaultReconcileOptions(repo, "clusters/dev"),
      scope: uniqueName("scope"),
    });
    expect(await exists(api, "v1", "ConfigMap", "precious", victim)).toBe(true);
    expect(await exists(api, "rbac.authorization.k8s.io/v1", "ClusterRole", role)).toBe(true);
  }, 60_000);
});
