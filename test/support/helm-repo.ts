// Helm charts and repositories for tests, made with the real helm: charts written from a few templates,
// packaged with `helm package`, indexed with `helm repo index` and served over HTTP from a directory (with
// optional basic auth); charts pushed to the real OCI registry with `helm push`; and Flux-style OCI artifacts
// (a tar.gz layer) pushed with plain registry API calls, as `flux push artifact` does.
import { execFile } from "node:child_process";
import { createHash, timingSafeEqual } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, normalize } from "node:path";

export function helmPath(): string {
  return process.env.GITOPS_BOT_HELM || "helm";
}

export function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { cwd: opts.cwd, env: { ...process.env, ...opts.env }, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) =>
        err ? reject(new Error(`${cmd} ${args.join(" ")}: ${stderr || err.message}`)) : resolve(stdout),
    );
  });
}

/** Runs the real helm against the test cluster with a private Helm home. */
export function helm(args: string[], kubeconfig: string): Promise<string> {
  const home = join(tmpdir(), "gitops-bot-test-helm-home");
  return run(helmPath(), args, {
    env: {
      KUBECONFIG: kubeconfig,
      HELM_CONFIG_HOME: join(home, "config"),
      HELM_CACHE_HOME: join(home, "cache"),
      HELM_DATA_HOME: join(home, "data"),
    },
  });
}

export interface ChartOptions {
  name: string;
  version: string;
  /** Extra files under templates/, by name. */
  templates?: Record<string, string>;
  values?: string;
  /** Files under crds/. */
  crds?: Record<string, string>;
}

/** A small chart: a ConfigMap showing the values and chart version, and an optional Deployment. */
export const defaultTemplates: Record<string, string> = {
  "configmap.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
  {{- with .Values.badLabel }}
  labels:
    bad: {{ . | quote }}
  {{- end }}
data:
  color: {{ .Values.color | quote }}
  chartVersion: {{ .Chart.Version | quote }}
  {{- with .Values.password }}
  password: {{ . | quote }}
  {{- end }}
  {{- with .Values.extra }}
  extra: {{ toJson . | quote }}
  {{- end }}
`,
  "deployment.yaml": `{{- if .Values.deployment }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels:
      app: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app: {{ .Release.Name }}
    spec:
      containers:
        - name: app
          image: {{ .Values.image }}
{{- end }}
`,
};

export const defaultValues = `color: blue
deployment: false
replicas: 1
image: registry.invalid/app:1.0.0
`;

/** Writes a chart directory under `root` and returns its path. */
export function writeChart(root: string, opts: ChartOptions): string {
  const dir = join(root, opts.name);
  mkdirSync(join(dir, "templates"), { recursive: true });
  writeFileSync(
    join(dir, "Chart.yaml"),
    `apiVersion: v2\nname: ${opts.name}\nversion: ${opts.version}\nappVersion: "${opts.version}"\n`,
  );
  writeFileSync(join(dir, "values.yaml"), opts.values ?? defaultValues);
  for (const [name, text] of Object.entries(opts.templates ?? defaultTemplates)) {
    writeFileSync(join(dir, "templates", name), text);
  }
  for (const [name, text] of Object.entries(opts.crds ?? {})) {
    mkdirSync(join(dir, "crds"), { recursive: true });
    writeFileSync(join(dir, "crds", name), text);
  }
  return dir;
}

/** `helm package` of a chart written with writeChart; returns the archive's path. */
export async function packageChart(opts: ChartOptions, dest: string): Promise<string> {
  const src = mkdtempSync(join(tmpdir(), "gitops-bot-chart-"));
  const dir = writeChart(src, opts);
  mkdirSync(dest, { recursive: true });
  await run(helmPath(), ["package", dir, "--destination", dest]);
  return join(dest, `${opts.name}-${opts.version}.tgz`);
}

export interface HelmRepoServer {
  url: string;
  dir: string;
  /** Packages a chart into the repository and re-indexes it. */
  addChart(opts: ChartOptions): Promise<void>;
  /** Requests seen, by path (to assert caching). */
  requests: string[];
  stop(): Promise<void>;
}

/** A Helm HTTP repository: a directory served by node's http server, indexed by `helm repo index`. */
export async function startHelmRepo(
  opts: { auth?: { user: string; password: string } } = {},
): Promise<HelmRepoServer> {
  const dir = mkdtempSync(join(tmpdir(), "gitops-bot-helm-repo-"));
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname));
    requests.push(path);
    if (opts.auth && !authorized(req, opts.auth)) {
      res.writeHead(401, { "www-authenticate": 'Basic realm="charts"' }).end();
      return;
    }
    if (path.includes("..")) {
      res.writeHead(400).end();
      return;
    }
    try {
      const body = readFileSync(join(dir, path));
      res.writeHead(200, { "content-length": body.length }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    dir,
    requests,
    async addChart(chart) {
      await packageChart(chart, dir);
      await run(helmPath(), ["repo", "index", dir, "--url", url]);
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function authorized(req: IncomingMessage, auth: { user: string; password: string }): boolean {
  const given = Buffer.from(req.headers.authorization ?? "");
  const wanted = Buffer.from(`Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString("base64")}`);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

/** `helm push` of a packaged chart to the test registry (plain HTTP); returns the oci:// repository URL. */
export async function pushChart(archive: string, registryHost: string, repository: string): Promise<string> {
  const url = `oci://${registryHost}/${repository}`;
  const home = mkdtempSync(join(tmpdir(), "gitops-bot-test-helm-"));
  await run(helmPath(), ["push", archive, url, "--plain-http"], {
    env: { HELM_CONFIG_HOME: home, HELM_CACHE_HOME: home, HELM_DATA_HOME: home },
  });
  return url;
}

const sha = (data: Buffer | string) => `sha256:${createHash("sha256").update(data).digest("hex")}`;

type Auth = { user: string; password: string } | undefined;
const authHeaders = (auth: Auth): Record<string, string> =>
  auth ? { authorization: `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString("base64")}` } : {};

async function putBlob(registryHost: string, repository: string, data: Buffer, auth: Auth): Promise<string> {
  const digest = sha(data);
  const start = await fetch(`http://${registryHost}/v2/${repository}/blobs/uploads/`, {
    method: "POST",
    headers: authHeaders(auth),
  });
  if (start.status !== 202) throw new Error(`blob upload start: HTTP ${start.status}`);
  const location = new URL(start.headers.get("location") ?? "", `http://${registryHost}`);
  location.searchParams.set("digest", digest);
  const put = await fetch(location, {
    method: "PUT",
    body: data,
    headers: { "content-type": "application/octet-stream", ...authHeaders(auth) },
  });
  if (put.status !== 201) throw new Error(`blob upload: HTTP ${put.status}`);
  return digest;
}

/**
 * Pushes a Flux-style artifact (`flux push artifact`): the files as one tar.gz layer of media type
 * application/vnd.cncf.flux.content.v1.tar+gzip. Returns the manifest digest.
 */
export async function pushFluxArtifact(
  registryHost: string,
  repository: string,
  tag: string,
  files: Record<string, string>,
  auth?: { user: string; password: string },
): Promise<string> {
  const src = mkdtempSync(join(tmpdir(), "gitops-bot-artifact-"));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(src, name)), { recursive: true });
    writeFileSync(join(src, name), text);
  }
  const tarball = join(mkdtempSync(join(tmpdir(), "gitops-bot-artifact-tar-")), "artifact.tar.gz");
  await run("tar", ["-czf", tarball, "-C", src, "."]);
  const layer = readFileSync(tarball);
  const config = Buffer.from("{}");
  const layerDigest = await putBlob(registryHost, repository, layer, auth);
  const configDigest = await putBlob(registryHost, repository, config, auth);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {
        mediaType: "application/vnd.cncf.flux.config.v1+json",
        digest: configDigest,
        size: config.length,
      },
      layers: [
        {
          mediaType: "application/vnd.cncf.flux.content.v1.tar+gzip",
          digest: layerDigest,
          size: layer.length,
        },
      ],
      annotations: { "org.opencontainers.image.source": "test", "org.opencontainers.image.revision": tag },
    }),
  );
  const put = await fetch(`http://${registryHost}/v2/${repository}/manifests/${tag}`, {
    method: "PUT",
    body: manifest,
    headers: { "content-type": "application/vnd.oci.image.manifest.v1+json", ...authHeaders(auth) },
  });
  if (put.status !== 201) throw new Error(`manifest upload: HTTP ${put.status} ${await put.text()}`);
  return sha(manifest);
}

/** Flux manifests for tests. */
export function helmRepositoryYaml(name: string, namespace: string, url: string, extra = ""): string {
  return `apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  interval: 10m
  url: ${url}
${extra}`;
}

export function helmReleaseYaml(opts: {
  name: string;
  namespace: string;
  chart?: string;
  version?: string;
  repo?: string;
  sourceKind?: string;
  extra?: string;
}): string {
  return `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: ${opts.name}
  namespace: ${opts.namespace}
spec:
  interval: 10m
  timeout: 60s
  chart:
    spec:
      chart: ${opts.chart ?? "demo"}
      version: "${opts.version ?? "*"}"
      sourceRef:
        kind: ${opts.sourceKind ?? "HelmRepository"}
        name: ${opts.repo ?? "charts"}
${opts.extra ?? ""}`;
}
