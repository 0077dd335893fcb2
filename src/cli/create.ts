// `gitops-bot create …`: Flux objects as YAML, the way `flux create … --export` writes them (keys sorted,
// intervals as Go durations), printed or written into the repository. Every object is validated with the same
// parser the engine uses, so what `create` writes, `reconcile` reads.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { KubernetesObject } from "@kubernetes/client-node";
import { parse as parseYaml, stringify } from "yaml";
import { parseDuration } from "../flux/duration.js";
import { parseHelmRelease } from "../flux/helm-release.js";
import { parseKustomization } from "../flux/kustomization.js";
import { checkedMetadata } from "../flux/names.js";
import { parseSource } from "../flux/sources.js";
import type { FlagSpecs, FlagValues } from "./args.js";
import { runCommand } from "./command.js";
import { type CliIO, UsageError } from "./io.js";

const usage = `Usage: gitops-bot create <kind> <name> [options]

Writes a Flux object as YAML, like 'flux create … --export': to stdout, or with --file into the repository.

Kinds and their options:
  source git <name>        --url <url> [--branch <b> | --tag <t> | --tag-semver <range> | --commit <sha>]
                           [--secret-ref <secret>] [--ignore-paths <p1,p2>]
  source helm <name>       --url <http(s)://… | oci://…> [--secret-ref <secret>] [--pass-credentials]
  source oci <name>        --url <oci://…> [--tag <t> | --tag-semver <range> | --digest <sha256:…>]
                           [--secret-ref <secret>] [--insecure]
  kustomization <name>     --path <dir> [--source <[Kind/]name[.namespace]>] [--prune[=bool]] [--wait[=bool]]
                           [--health-check <Kind/name.namespace,…>] [--target-namespace <ns>]
                           [--depends-on <name,…>] [--timeout <d>] [--service-account <name>]
  helmrelease <name>       --chart <chart> --source <HelmRepository|GitRepository/name[.namespace]>
                           [--chart-version <range>] | --chart-ref <OCIRepository/name[.namespace]>
                           [--target-namespace <ns>] [--release-name <n>] [--values <file>]
                           [--values-from <ConfigMap|Secret/name,…>] [--depends-on <name,…>] [--crds <policy>]
                           [--service-account <name>]
  image repository <name>  --image <repo> [--secret-ref <secret>]
  image policy <name>      --image-ref <ImageRepository name> [--select-semver <range> | --select-numeric <asc|desc>
                           | --select-alpha <asc|desc>] [--filter-regex <re>] [--filter-extract <$group>]

Common options:
  -n, --namespace <ns>  Namespace of the object (default flux-system)
  --interval <d>        Reconcile interval (default 1m; 10m for kustomization and helmrelease as flux writes)
  --label <k=v,…>       Labels
  --export              Print the YAML (the default)
  --file <path>         Write into this file instead (created with its directories; refuses to overwrite
                        unless --force)
  -h, --help            Show this help

Booleans take --flag, --flag=true or --flag=false, as with flux.
`;

const options = {
  namespace: { type: "string", short: "n" },
  "health-check": { type: "string", multiple: true },
  "service-account": { type: "string" },
  interval: { type: "string" },
  label: { type: "string" },
  export: { type: "boolean" },
  file: { type: "string" },
  force: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  url: { type: "string" },
  branch: { type: "string" },
  tag: { type: "string" },
  "tag-semver": { type: "string" },
  commit: { type: "string" },
  digest: { type: "string" },
  "secret-ref": { type: "string" },
  "ignore-paths": { type: "string" },
  "pass-credentials": { type: "boolean" },
  insecure: { type: "boolean" },
  path: { type: "string" },
  source: { type: "string" },
  prune: { type: "boolean" },
  wait: { type: "boolean" },
  "target-namespace": { type: "string" },
  "depends-on": { type: "string" },
  timeout: { type: "string" },
  chart: { type: "string" },
  "chart-version": { type: "string" },
  "chart-ref": { type: "string" },
  "release-name": { type: "string" },
  values: { type: "string" },
  "values-from": { type: "string" },
  crds: { type: "string" },
  image: { type: "string" },
  "image-ref": { type: "string" },
  "select-semver": { type: "string" },
  "select-numeric": { type: "string" },
  "select-alpha": { type: "string" },
  "filter-regex": { type: "string" },
  "filter-extract": { type: "string" },
} as const satisfies FlagSpecs;

type Values = FlagValues<typeof options>;

/** A mistake in what `create` was asked to write: a usage error (one line, then where the help is). */
export class CreateError extends UsageError {}

/** Go's duration format, as flux writes intervals: 1m0s, 10m0s, 1h0m0s, 30s. */
export function goDuration(text: string): string {
  const ms = parseDuration(text);
  if (ms % 1000 !== 0) return text;
  const total = ms / 1000;
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

function list(text: string | undefined): string[] {
  return (text ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * A reference as flux writes it on the command line: `[Kind/]name[.namespace]` (the kind defaults to the first
 * allowed one; the namespace only where the field has one).
 */
function kindAndName(
  text: string,
  allowed: string[],
  flag: string,
  withNamespace = false,
): { kind: string; name: string; namespace?: string } {
  const [kind, rest] = text.includes("/") ? text.split("/", 2) : [allowed[0], text];
  const dot = withNamespace ? (rest ?? "").indexOf(".") : -1;
  const name = dot === -1 ? rest : rest?.slice(0, dot);
  const namespace = dot === -1 ? undefined : rest?.slice(dot + 1);
  const shape = `<${allowed.join("|")}>/<name>${withNamespace ? "[.<namespace>]" : ""}`;
  if (!kind || !name || namespace === "" || !allowed.includes(kind)) {
    throw new CreateError(`--${flag} must be ${shape}, got "${text}"`);
  }
  return { kind, name, ...(namespace ? { namespace } : {}) };
}

const HEALTH_CHECK_KINDS: Record<string, string> = {
  Deployment: "apps/v1",
  DaemonSet: "apps/v1",
  StatefulSet: "apps/v1",
  HelmRelease: "helm.toolkit.fluxcd.io/v2",
  Kustomization: "kustomize.toolkit.fluxcd.io/v1",
};

/** flux's `--health-check Kind/name.namespace` (repeated or comma-separated); the namespace defaults to the object's. */
function healthChecks(values: string[] | undefined, namespace: string) {
  return (values ?? []).flatMap(list).map((text) => {
    const ref = kindAndName(text, Object.keys(HEALTH_CHECK_KINDS), "health-check", true);
    if (!text.includes("/")) {
      throw new CreateError(`--health-check must be <Kind>/<name>[.<namespace>], got "${text}"`);
    }
    return {
      apiVersion: HEALTH_CHECK_KINDS[ref.kind],
      kind: ref.kind,
      name: ref.name,
      namespace: ref.namespace ?? namespace,
    };
  });
}

function required(v: Values, flag: keyof Values): string {
  const value = v[flag];
  if (typeof value !== "string" || value === "") throw new CreateError(`--${String(flag)} is required`);
  return value;
}

function oneOf(v: Values, flags: (keyof Values)[]): keyof Values | undefined {
  const given = flags.filter((f) => v[f] !== undefined);
  if (given.length > 1)
    throw new CreateError(`use only one of ${flags.map((f) => `--${String(f)}`).join(", ")}`);
  return given[0];
}

function metadata(name: string, v: Values): Record<string, unknown> {
  const labels = Object.fromEntries(
    list(v.label).map((pair) => {
      const [k, val] = pair.split("=", 2);
      if (!k || val === undefined) throw new CreateError(`--label must be key=value pairs, got "${pair}"`);
      return [k, val];
    }),
  );
  return {
    name,
    namespace: v.namespace ?? "flux-system",
    ...(Object.keys(labels).length ? { labels } : {}),
  };
}

function prune<T>(value: T): T {
  if (Array.isArray(value)) return value.map(prune) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, prune(v)]),
    ) as T;
  }
  return value;
}

export function buildObject(kindWords: string[], name: string, v: Values): KubernetesObject {
  const interval = goDuration(
    v.interval ?? (["kustomization", "helmrelease"].includes(kindWords[0] ?? "") ? "10m" : "1m"),
  );
  const meta = metadata(name, v);
  const secretRef = v["secret-ref"] ? { name: v["secret-ref"] } : undefined;
  const kind = kindWords.join(" ");
  switch (kind) {
    case "source git": {
      const ref = oneOf(v, ["branch", "tag", "tag-semver", "commit"]);
      const refSpec =
        ref === "tag-semver" ? { semver: v["tag-semver"] } : ref ? { [ref]: v[ref] } : { branch: "master" };
      const ignore = list(v["ignore-paths"]);
      return {
        apiVersion: "source.toolkit.fluxcd.io/v1",
        kind: "GitRepository",
        metadata: meta,
        spec: {
          interval,
          ref: refSpec,
          secretRef,
          url: required(v, "url"),
          ignore: ignore.length ? ignore.join("\n") : undefined,
        },
      } as KubernetesObject;
    }
    case "source helm": {
      const url = required(v, "url");
      return {
        apiVersion: "source.toolkit.fluxcd.io/v1",
        kind: "HelmRepository",
        metadata: meta,
        spec: {
          interval,
          url,
          secretRef,
          passCredentials: v["pass-credentials"] || undefined,
          type: url.startsWith("oci://") ? "oci" : undefined,
        },
      } as KubernetesObject;
    }
    case "source oci": {
      const ref = oneOf(v, ["tag", "tag-semver", "digest"]);
      return {
        apiVersion: "source.toolkit.fluxcd.io/v1",
        kind: "OCIRepository",
        metadata: meta,
        spec: {
          interval,
          url: required(v, "url"),
          ref:
            ref === "tag-semver" ? { semver: v["tag-semver"] } : ref ? { [ref]: v[ref] } : { tag: "latest" },
          secretRef,
          insecure: v.insecure || undefined,
        },
      } as KubernetesObject;
    }
    case "kustomization": {
      const source = kindAndName(
        v.source ?? "GitRepository/flux-system",
        ["GitRepository", "OCIRepository", "Bucket"],
        "source",
        true,
      );
      return {
        apiVersion: "kustomize.toolkit.fluxcd.io/v1",
        kind: "Kustomization",
        metadata: meta,
        spec: {
          interval,
          path: required(v, "path"),
          prune: v.prune ?? false,
          sourceRef: source,
          targetNamespace: v["target-namespace"],
          wait: v.wait || undefined,
          timeout: v.timeout ? goDuration(v.timeout) : undefined,
          dependsOn: list(v["depends-on"]).map((d) => ({ name: d })),
          healthChecks: healthChecks(v["health-check"], meta.namespace as string),
          serviceAccountName: v["service-account"],
        },
      } as KubernetesObject;
    }
    case "helmrelease": {
      if (v["chart-ref"] && (v.chart || v.source))
        throw new CreateError("use --chart-ref or --chart with --source, not both");
      const chartRef = v["chart-ref"]
        ? kindAndName(v["chart-ref"], ["OCIRepository"], "chart-ref", true)
        : undefined;
      const chart = chartRef
        ? undefined
        : {
            spec: {
              chart: required(v, "chart"),
              version: v["chart-version"],
              sourceRef: kindAndName(
                required(v, "source"),
                ["HelmRepository", "GitRepository"],
                "source",
                true,
              ),
              reconcileStrategy: "ChartVersion",
            },
          };
      const crds = v.crds;
      if (crds && !["Skip", "Create", "CreateReplace"].includes(crds)) {
        throw new CreateError(`--crds must be Skip, Create or CreateReplace, got "${crds}"`);
      }
      return {
        apiVersion: "helm.toolkit.fluxcd.io/v2",
        kind: "HelmRelease",
        metadata: meta,
        spec: {
          interval,
          chart,
          chartRef,
          releaseName: v["release-name"],
          serviceAccountName: v["service-account"],
          targetNamespace: v["target-namespace"],
          dependsOn: list(v["depends-on"]).map((d) => ({ name: d })),
          install: crds ? { crds } : undefined,
          upgrade: crds ? { crds } : undefined,
          valuesFrom: list(v["values-from"]).map((ref) =>
            kindAndName(ref, ["ConfigMap", "Secret"], "values-from"),
          ),
        },
      } as KubernetesObject;
    }
    case "image repository":
      return {
        apiVersion: "image.toolkit.fluxcd.io/v1",
        kind: "ImageRepository",
        metadata: meta,
        spec: { image: required(v, "image"), interval, secretRef },
      } as KubernetesObject;
    case "image policy": {
      const select = oneOf(v, ["select-semver", "select-numeric", "select-alpha"]);
      if (!select)
        throw new CreateError("one of --select-semver, --select-numeric, --select-alpha is required");
      const order = (o: string | undefined) => {
        if (o !== "asc" && o !== "desc") throw new CreateError(`--${String(select)} must be asc or desc`);
        return o;
      };
      const policy =
        select === "select-semver"
          ? { semver: { range: v["select-semver"] } }
          : select === "select-numeric"
            ? { numerical: { order: order(v["select-numeric"]) } }
            : { alphabetical: { order: order(v["select-alpha"]) } };
      return {
        apiVersion: "image.toolkit.fluxcd.io/v1",
        kind: "ImagePolicy",
        metadata: meta,
        spec: {
          imageRepositoryRef: { name: required(v, "image-ref") },
          policy,
          filterTags: v["filter-regex"]
            ? { pattern: v["filter-regex"], extract: v["filter-extract"] }
            : undefined,
        },
      } as KubernetesObject;
    }
    default:
      throw new CreateError(`unknown kind "${kind}"`);
  }
}

/** flux-style YAML: `---` first, keys sorted, empty lists left out. */
export function exportYaml(obj: KubernetesObject): string {
  const clean = prune(obj) as Record<string, unknown>;
  const spec = clean.spec as Record<string, unknown>;
  for (const [k, val] of Object.entries(spec)) if (Array.isArray(val) && val.length === 0) delete spec[k];
  return `---\n${stringify(clean, { sortMapEntries: true, lineWidth: 0 })}`;
}

function validate(obj: KubernetesObject, file: string): void {
  switch (obj.kind) {
    case "Kustomization":
      parseKustomization(obj, file);
      return;
    case "HelmRelease":
      parseHelmRelease(obj, file);
      return;
    case "GitRepository":
    case "HelmRepository":
    case "OCIRepository":
      parseSource(obj, file);
      return;
    default:
      // image automation objects: their own parser lives with the scanner; the names follow the shared rules
      checkedMetadata(obj, obj.kind ?? "object", file);
  }
}

export function createCommand(args: string[], io: CliIO): Promise<number> {
  const frame = { name: "gitops-bot create", usage, flags: options, usageWhenEmpty: true };
  return runCommand(io, args, frame, async ({ values, positionals }) => {
    if (positionals.length === 0) throw new UsageError("expects a <kind> and a <name>");
    const grouped = positionals[0] === "source" || positionals[0] === "image";
    const kindWords = positionals.slice(0, grouped ? 2 : 1);
    const rest = positionals.slice(kindWords.length);
    if (rest.length !== 1) throw new CreateError(`expects exactly one <name> after "${kindWords.join(" ")}"`);
    const name = rest[0] as string;
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) || name.length > 63) {
      throw new CreateError(`"${name}" is not a valid name (lowercase letters, digits and '-')`);
    }
    const obj = buildObject(kindWords, name, values);
    if (obj.kind === "HelmRelease" && values.values) {
      if (!existsSync(values.values)) throw new CreateError(`--values ${values.values}: no such file`);
      const data = parseYaml(readFileSync(values.values, "utf8")) as unknown;
      if (!data || typeof data !== "object" || Array.isArray(data)) {
        throw new CreateError(`--values ${values.values} is not a YAML mapping`);
      }
      (obj as { spec: Record<string, unknown> }).spec.values = data;
    }
    validate(obj, values.file ?? "<create>");
    const text = exportYaml(obj);
    if (values.file) {
      const target = resolve(values.file);
      if (existsSync(target) && !values.force)
        throw new CreateError(`${values.file} exists; pass --force to overwrite`);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, text);
      io.err.write(`✔ wrote ${obj.kind} ${meta(obj)} to ${values.file}\n`);
    } else {
      io.out.write(text);
    }
    return 0;
  });
}

function meta(obj: KubernetesObject): string {
  return `${obj.metadata?.namespace}/${obj.metadata?.name}`;
}
