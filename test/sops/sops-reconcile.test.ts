// A SOPS-encrypted Secret in the repository, decrypted by the real sops binary with the age key of the
// Secret named in spec.decryption.secretRef, applied, and masked in every output; a fork's preview never
// decrypts and says why.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KubernetesObject } from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { FORK_DECRYPTION_REASON } from "../../src/build/sops.js";
import type { RawObjectApi } from "../../src/cluster/kube-client.js";
import { defaultReconcileOptions, reconcileTree } from "../../src/reconcile/run.js";
import { createNamespace, testObjectApi, uniqueName } from "../support/kube.js";
import { fluxKustomization, makeRepo } from "../support/repo-tree.js";
import { ageKeyPair, sopsEncrypt } from "../support/sops.js";

const CANARY = `sops-e2e-canary-${Date.now()}`;
let api: RawObjectApi;
let ns: string;
let repo: string;

beforeAll(async () => {
  api = testObjectApi();
  ns = await createNamespace(api, "sops");
  const work = mkdtempSync(join(tmpdir(), "sops-e2e-"));
  const { key, recipient } = await ageKeyPair(work);
  await api.create({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "sops-age", namespace: ns },
    stringData: { "age.agekey": key },
  } as KubernetesObject);
  const encrypted = await sopsEncrypt(
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "db" },
      stringData: { password: CANARY },
    } as KubernetesObject,
    recipient,
    work,
  );
  repo = makeRepo({
    "clusters/dev/apps.yaml": fluxKustomization({
      name: "apps",
      namespace: ns,
      path: "./apps",
      extra: `  targetNamespace: ${ns}\n  decryption:\n    provider: sops\n    secretRef:\n      name: sops-age\n`,
    }),
    "apps/kustomization.yaml": "resources:\n  - db.yaml\n  - settings.yaml\n",
    "apps/db.yaml": stringify(encrypted),
    "apps/settings.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: '1'\n",
  });
});

describe("SOPS through the engine", () => {
  it("a preview shows the decrypted Secret as a creation with its value masked", async () => {
    const result = await reconcileTree(api, {
      ...defaultReconcileOptions(repo, "clusters/dev"),
      scope: uniqueName("scope"),
      dryRun: true,
      withDiff: true,
    });
    expect(result.errors).toEqual([]);
    const text = JSON.stringify(result);
    expect(text).not.toContain(CANARY);
    expect(text).not.toContain(Buffer.from(CANARY).toString("base64"));
    const change = result.kustomizations[0]?.changes.find((c) => c.subject === `Secret/${ns}/db`);
    expect(change?.action).toBe("created");
  });

  it("a fork's preview reads no key and skips the encrypted Secret, saying why", async () => {
    const result = await reconcileTree(api, {
      ...defaultReconcileOptions(repo, "clusters/dev"),
      scope: uniqueName("scope"),
      dryRun: true,
      withDiff: true,
      untrusted: true,
    });
    expect(result.errors).toEqual([]);
    const change = result.kustomizations[0]?.changes.find((c) => c.subject === `Secret/${ns}/db`);
    expect(change).toMatchObject({ action: "skipped", reason: FORK_DECRYPTION_REASON });
    expect(JSON.stringify(result)).not.toContain(CANARY);
  });

  it("a reconcile applies the decrypted Secret; the result never holds its value", async () => {
    const lines: string[] = [];
    const result = await reconcileTree(api, {
      ...defaultReconcileOptions(repo, "clusters/dev"),
      scope: uniqueName("scope"),
      onEvent: (e) => lines.push(JSON.stringify(e)),
    });
    expect(result.errors).toEqual([]);
    expect(result.kustomizations[0]?.status).toBe("Ready");
    const live = (await api.read({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "db", namespace: ns },
    })) as {
      data: Record<string, string>;
    } & KubernetesObject;
    expect(Buffer.from(live.data.password ?? "", "base64").toString()).toBe(CANARY);
    expect((live as { sops?: unknown }).sops).toBeUndefined();
    const out = JSON.stringify(result) + lines.join("\n");
    expect(out).not.toContain(CANARY);
  });

  it("a missing key Secret fails the Kustomization naming the field and the Secret", async () => {
    const other = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./apps",
        extra: `  targetNamespace: ${ns}\n  decryption:\n    provider: sops\n    secretRef:\n      name: no-such-keys\n`,
      }),
      "apps/db.yaml":
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\nsops:\n  mac: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\n  version: 3.13.3\n",
    });
    const result = await reconcileTree(api, {
      ...defaultReconcileOptions(other, "clusters/dev"),
      scope: uniqueName("scope"),
    });
    const k = result.kustomizations[0];
    expect(k?.status).toBe("Failed");
    expect(k?.message).toMatch(
      new RegExp(`^Kustomization/${ns}/apps: spec\\.decryption\\.secretRef: Secret ${ns}/no-such-keys: `),
    );
  });
});
