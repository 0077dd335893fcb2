// A real Kubernetes control plane for the tests: etcd + kube-apiserver (RBAC on, service-account keys, a static
// admin token), and — started in the background, since only health tests need them — kube-controller-manager,
// kube-scheduler and kwok with one simulated node, so Deployments really roll out.
//
// The binaries come from scripts/test-binaries.sh (built once from Go modules into ~/.cache/gitops-bot) or from
// KUBEBUILDER_ASSETS. The code under test reaches the API server only through the kubeconfig written here.
import { execFileSync } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { freePort, type ManagedProcess, startProcess, waitFor } from "./processes.js";

export interface ControlPlane {
  kubeconfigPath: string;
  server: string;
  token: string;
  caData: string;
  version: string;
  binDir: string;
  /** Resolves once kube-controller-manager, kube-scheduler and kwok run and the simulated node is Ready. */
  workloadsReady: Promise<void>;
  stop(): Promise<void>;
}

/** The checkout root, from test/support/ or from its compiled copy under dist-bench/ (benchmarks). */
const repoRoot = (() => {
  let dir = new URL(".", import.meta.url).pathname;
  while (!existsSync(join(dir, "scripts/test-binaries.sh")) && dir !== "/") dir = join(dir, "..");
  return dir;
})();

/** Runs scripts/test-binaries.sh (a no-op on a warm cache) and returns the directory holding the binaries. */
export function ensureBinaries(): string {
  // An explicit directory (e.g. binaries built by another checkout) skips the build script.
  const preset = process.env.GITOPS_BOT_TEST_BIN_DIR;
  if (preset) {
    if (!existsSync(join(preset, "kube-apiserver")))
      throw new Error(`GITOPS_BOT_TEST_BIN_DIR=${preset} has no kube-apiserver`);
    return preset;
  }
  const out = execFileSync("bash", [join(repoRoot, "scripts/test-binaries.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const dir = out.trim().split("\n").at(-1) ?? "";
  if (!existsSync(join(dir, "kube-apiserver"))) throw new Error(`test binaries missing in ${dir}`);
  return dir;
}

export function apiRequest(
  plane: Pick<ControlPlane, "server" | "token" | "caData">,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, plane.server);
    const req = request(
      url,
      {
        method,
        ca: Buffer.from(plane.caData, "base64"),
        headers: {
          authorization: `Bearer ${plane.token}`,
          "content-type": "application/json",
          accept: "application/json",
        },
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

export async function startControlPlane(opts: { dir: string; binDir: string }): Promise<ControlPlane> {
  const { dir, binDir } = opts;
  const bin = (name: string) => join(binDir, name);
  const logDir = join(dir, "logs");
  const certDir = join(dir, "certs");
  for (const d of [logDir, certDir]) mkdirSync(d, { recursive: true });
  const processes: ManagedProcess[] = [];
  const stopAll = async () => {
    for (const p of processes.reverse()) await p.stop();
  };

  try {
    // etcd: fsync off because the data is thrown away after the run and fsync dominates apply latency.
    const etcdClient = await freePort();
    const etcdPeer = await freePort();
    const etcd = startProcess(
      "etcd",
      bin("etcd"),
      [
        `--data-dir=${join(dir, "etcd")}`,
        `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
        `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
        "--unsafe-no-fsync=true",
        "--log-level=warn",
      ],
      { logDir },
    );
    processes.push(etcd);
    await waitFor("etcd health", async () => (await fetch(`http://127.0.0.1:${etcdClient}/health`)).ok, {
      timeoutMs: 30_000,
      process: etcd,
    });

    const token = randomBytes(24).toString("hex");
    writeFileSync(join(dir, "tokens.csv"), `${token},gitops-admin,gitops-admin-uid,"system:masters"\n`);
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const saKey = join(certDir, "sa.key");
    const saPub = join(certDir, "sa.pub");
    writeFileSync(saKey, privateKey.export({ type: "pkcs1", format: "pem" }));
    writeFileSync(saPub, publicKey.export({ type: "spki", format: "pem" }));

    const securePort = await freePort();
    const apiserver = startProcess(
      "kube-apiserver",
      bin("kube-apiserver"),
      [
        `--etcd-servers=http://127.0.0.1:${etcdClient}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        `--secure-port=${securePort}`,
        `--cert-dir=${certDir}`,
        `--token-auth-file=${join(dir, "tokens.csv")}`,
        "--authorization-mode=RBAC",
        `--service-account-key-file=${saPub}`,
        `--service-account-signing-key-file=${saKey}`,
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        "--service-cluster-ip-range=10.96.0.0/16",
        "--allow-privileged=true",
        "--enable-priority-and-fairness=false",
        "--v=0",
      ],
      { logDir },
    );
    processes.push(apiserver);
    // The API server writes its self-signed serving cert (with its CA) before it starts listening.
    const certFile = join(certDir, "apiserver.crt");
    await waitFor("kube-apiserver serving certificate", async () => existsSync(certFile), {
      timeoutMs: 60_000,
      process: apiserver,
    });
    const caData = readFileSync(certFile).toString("base64");
    const server = `https://127.0.0.1:${securePort}`;
    const plane = { server, token, caData };
    await waitFor(
      "kube-apiserver /readyz",
      async () => (await apiRequest(plane, "GET", "/readyz")).status === 200,
      { timeoutMs: 90_000, intervalMs: 200, process: apiserver },
    );
    const version = (JSON.parse((await apiRequest(plane, "GET", "/version")).body) as { gitVersion: string })
      .gitVersion;

    const kubeconfigPath = join(dir, "kubeconfig");
    writeFileSync(kubeconfigPath, kubeconfig(server, caData, token));

    const workloadsReady = startWorkloadControllers({
      dir,
      binDir,
      bin,
      logDir,
      kubeconfigPath,
      saKey,
      certFile,
      plane,
      processes,
    });
    // Avoid an unhandled rejection when no test waits for workloads; tests that do see the error.
    workloadsReady.catch(() => {});

    return {
      kubeconfigPath,
      server,
      token,
      caData,
      version,
      binDir,
      workloadsReady,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

async function startWorkloadControllers(ctx: {
  dir: string;
  binDir: string;
  bin: (name: string) => string;
  logDir: string;
  kubeconfigPath: string;
  saKey: string;
  certFile: string;
  plane: Pick<ControlPlane, "server" | "token" | "caData">;
  processes: ManagedProcess[];
}): Promise<void> {
  const { bin, logDir, kubeconfigPath, plane, processes } = ctx;
  processes.push(
    startProcess(
      "kube-controller-manager",
      bin("kube-controller-manager"),
      [
        `--kubeconfig=${kubeconfigPath}`,
        `--authentication-kubeconfig=${kubeconfigPath}`,
        `--authorization-kubeconfig=${kubeconfigPath}`,
        "--leader-elect=false",
        "--secure-port=0",
        `--service-account-private-key-file=${ctx.saKey}`,
        `--root-ca-file=${ctx.certFile}`,
        // Node IPAM and cloud controllers have nothing to do without real nodes and clouds.
        "--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller",
        "--concurrent-deployment-syncs=10",
        "--concurrent-replicaset-syncs=10",
        "--v=0",
      ],
      { logDir },
    ),
    startProcess(
      "kube-scheduler",
      bin("kube-scheduler"),
      [
        `--kubeconfig=${kubeconfigPath}`,
        `--authentication-kubeconfig=${kubeconfigPath}`,
        `--authorization-kubeconfig=${kubeconfigPath}`,
        "--leader-elect=false",
        "--secure-port=0",
        "--v=0",
      ],
      { logDir },
    ),
  );
  const kwokPort = await freePort();
  const kwok = startProcess(
    "kwok",
    bin("kwok"),
    [
      `--kubeconfig=${kubeconfigPath}`,
      // kwok does nothing without stages; test-binaries.sh extracts upstream's "fast" node and pod stages.
      `--config=${join(ctx.binDir, "kwok-stages.yaml")}`,
      "--manage-all-nodes=false",
      "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
      "--cidr=10.0.0.1/24",
      "--node-ip=10.0.0.1",
      `--server-address=127.0.0.1:${kwokPort}`,
    ],
    { logDir },
  );
  processes.push(kwok);

  const node = {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: "kwok-node-0",
      annotations: { "node.alpha.kubernetes.io/ttl": "0", "kwok.x-k8s.io/node": "fake" },
      labels: {
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/os": "linux",
        "kubernetes.io/hostname": "kwok-node-0",
        type: "kwok",
      },
    },
    status: {
      allocatable: { cpu: "32", memory: "256Gi", pods: "1000" },
      capacity: { cpu: "32", memory: "256Gi", pods: "1000" },
    },
  };
  const created = await apiRequest(plane, "POST", "/api/v1/nodes", node);
  if (created.status !== 201 && created.status !== 409) {
    throw new Error(`creating the kwok node failed: ${created.status} ${created.body}`);
  }
  await waitFor(
    "kwok node Ready",
    async () => {
      const res = await apiRequest(plane, "GET", "/api/v1/nodes/kwok-node-0");
      const conditions = (
        JSON.parse(res.body) as { status?: { conditions?: { type: string; status: string }[] } }
      ).status?.conditions;
      return conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
    },
    { timeoutMs: 60_000, intervalMs: 250, process: kwok },
  );
  // Pods need their namespace's "default" ServiceAccount, which the controller manager creates.
  await waitFor(
    "default ServiceAccount",
    async () =>
      (await apiRequest(plane, "GET", "/api/v1/namespaces/default/serviceaccounts/default")).status === 200,
    { timeoutMs: 60_000, intervalMs: 250 },
  );
}

function kubeconfig(server: string, caData: string, token: string): string {
  return `apiVersion: v1
kind: Config
clusters:
- name: harness
  cluster:
    server: ${server}
    certificate-authority-data: ${caData}
users:
- name: gitops-admin
  user:
    token: ${token}
contexts:
- name: harness
  context:
    cluster: harness
    user: gitops-admin
current-context: harness
`;
}
