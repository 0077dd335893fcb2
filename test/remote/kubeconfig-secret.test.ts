// spec.kubeConfig.secretRef (Flux's hub model): the kubeconfig in a Secret is hostile data. Only inline
// credentials, only servers the operator lists, never for a fork; with all that, objects go to that cluster.
// The "remote" cluster here is the harness's own API server, reached through a kubeconfig in a Secret.
import { readFileSync } from "node:fs";
import type { KubernetesObject } from "@kubernetes/client-node";
import { describe, expect, inject, it } from "vitest";
import { RemoteKubeConfigError, remoteKubeConfig } from "../../src/cluster/remote-kubeconfig.js";
import { defaultReconcileOptions, reconcileTree } from "../../src/reconcile/run.js";
import { createNamespace, exists, testKubeConfig, testObjectApi, uniqueName } from "../support/kube.js";
import { configMap, fluxKustomization, makeRepo } from "../support/repo-tree.js";

const kubeconfigText = () => readFileSync(inject("kubeconfigPath"), "utf8");
const server = () => testKubeConfig().getCurrentCluster()?.server ?? "";

const kubeconfig = (cluster: string, user: string) => `apiVersion: v1
kind: Config
clusters:
  - name: c
    cluster:
${cluster}
users:
  - name: u
    user:
${user}
contexts:
  - name: x
    context: {cluster: c, user: u}
current-context: x
`;

describe("a kubeconfig from a Secret", () => {
  const where = "spec.kubeConfig.secretRef: Secret flux-system/prod";
  it.each([
    [
      "an exec plugin (a program the bot would run)",
      kubeconfig(
        "      server: https://prod.example.com:6443",
        "      exec: {command: /bin/sh, args: [-c, 'touch /tmp/pwned'], apiVersion: client.authentication.k8s.io/v1}",
      ),
      `${where}: users[].user.exec is not allowed: only inline credentials (token, client-certificate-data and client-key-data) — never a program to run or a file to read`,
    ],
    [
      "a token file on the bot's disk",
      kubeconfig(
        "      server: https://prod.example.com:6443",
        "      tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token",
      ),
      `${where}: users[].user.tokenFile is not allowed: only inline credentials (token, client-certificate-data and client-key-data) — never a program to run or a file to read`,
    ],
    [
      "a CA file",
      kubeconfig(
        "      server: https://prod.example.com:6443\n      certificate-authority: /etc/ssl/ca.pem",
        "      token: t",
      ),
      `${where}: clusters[].cluster.certificate-authority is not allowed (only server, certificate-authority-data, tls-server-name)`,
    ],
    [
      "a server the operator did not list",
      kubeconfig("      server: https://evil.example.com:6443", "      token: t"),
      `${where}: the API server https://evil.example.com:6443 is not in the operator's security.remoteClusters list`,
    ],
    [
      "plain http",
      kubeconfig("      server: http://prod.example.com:6443", "      token: t"),
      `${where}: the API server must be reached over https, not http://prod.example.com:6443`,
    ],
    [
      "TLS verification off",
      kubeconfig(
        "      server: https://prod.example.com:6443\n      insecure-skip-tls-verify: true",
        "      token: t",
      ),
      `${where}: insecure-skip-tls-verify is not allowed`,
    ],
  ])("refuses %s", (_name, text, message) => {
    expect(() => remoteKubeConfig(text, where, ["https://prod.example.com:6443"])).toThrow(
      new RemoteKubeConfigError(message),
    );
  });

  it("accepts inline credentials for a listed server (port and trailing slash normalised)", () => {
    const kc = remoteKubeConfig(
      kubeconfig("      server: https://PROD.example.com:6443/", "      token: t"),
      where,
      ["https://prod.example.com:6443"],
    );
    // The client talks to the normal form that was checked, never the Secret's own spelling.
    expect(kc.getCurrentCluster()?.server).toBe("https://prod.example.com:6443");
    expect(kc.getCurrentUser()?.token).toBe("t");
  });
});

describe("Kustomizations on another cluster", () => {
  const api = testObjectApi();

  async function fixture() {
    const ns = await createNamespace(api, "remote");
    await api.create({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "prod-kubeconfig", namespace: ns },
      stringData: { value: kubeconfigText() },
    } as KubernetesObject);
    const repo = makeRepo({
      "clusters/dev/apps.yaml": fluxKustomization({
        name: "apps",
        namespace: ns,
        path: "./apps",
        extra: `  targetNamespace: ${ns}\n  kubeConfig:\n    secretRef:\n      name: prod-kubeconfig\n`,
      }),
      "apps/cm.yaml": configMap("remote-cm", { a: "1" }),
    });
    return { ns, opts: { ...defaultReconcileOptions(repo, "clusters/dev"), scope: uniqueName("scope") } };
  }

  it("applies through the Secret's kubeconfig when its server is listed", async () => {
    const { ns, opts } = await fixture();
    const result = await reconcileTree(api, { ...opts, remoteClusters: [server()] });
    expect(result.kustomizations[0]?.status).toBe("Ready");
    expect(await exists(api, "v1", "ConfigMap", "remote-cm", ns)).toBe(true);
  });

  it("refuses when the operator lists no remote cluster, applying nothing", async () => {
    const { ns, opts } = await fixture();
    const result = await reconcileTree(api, opts);
    const k = result.kustomizations[0];
    expect(k?.status).toBe("Failed");
    expect(k?.message).toContain(
      `spec.kubeConfig.secretRef: Secret ${ns}/prod-kubeconfig: the API server ${server()} is not in the operator's security.remoteClusters list`,
    );
    expect(await exists(api, "v1", "ConfigMap", "remote-cm", ns)).toBe(false);
  });

  it("a fork's preview never reads the kubeconfig Secret", async () => {
    const { ns, opts } = await fixture();
    const result = await reconcileTree(api, {
      ...opts,
      remoteClusters: [server()],
      dryRun: true,
      untrusted: true,
    });
    const k = result.kustomizations[0];
    expect(k?.status).toBe("Failed");
    expect(k?.message).toContain(
      `spec.kubeConfig.secretRef: Secret ${ns}/prod-kubeconfig: not read for changes from outside the repository`,
    );
    expect(JSON.stringify(result)).not.toContain(testKubeConfig().getCurrentUser()?.token ?? "no-token");
  });
});
