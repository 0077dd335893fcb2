// Registry authentication, the one reader for OCI sources, OCI Helm charts and image scans: the
// `WWW-Authenticate` challenge (RFC 7235) a registry answers 401 with, Basic credentials, and the docker config
// Flux reads from a `secretRef` (a kubernetes.io/dockerconfigjson Secret, whose `.dockerconfigjson` has the same
// shape as ~/.docker/config.json). Below source/ and images/, which both import it.
import { z } from "zod";
import { DOCKER_HUB_REGISTRY } from "./reference.js";

export interface BasicCredentials {
  username: string;
  password: string;
}

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses `Bearer realm="https://auth.example/token",service="registry",scope="repository:a/b:pull"`. */
export function parseChallenges(header: string): Challenge[] {
  const challenges: Challenge[] = [];
  // scheme, then comma-separated key=value or key="quoted value"; a new scheme starts after a comma.
  const token = /\s*([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)(?:\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*))?\s*,?/gy;
  let current: Challenge | undefined;
  for (let match = token.exec(header); match && match[0] !== ""; match = token.exec(header)) {
    const [, name, value] = match;
    if (value === undefined) {
      current = { scheme: name!.toLowerCase(), params: {} };
      challenges.push(current);
    } else if (current) {
      current.params[name!.toLowerCase()] = value.startsWith('"')
        ? value.slice(1, -1).replace(/\\(.)/g, "$1")
        : value;
    }
  }
  return challenges;
}

export function basicAuthorization({ username, password }: BasicCredentials): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
}

const dockerConfigSchema = z.object({
  auths: z
    .record(
      z.string(),
      z.object({
        username: z.string().optional(),
        password: z.string().optional(),
        auth: z.string().optional(),
        identitytoken: z.string().optional(),
      }),
    )
    .default({}),
});

export type DockerConfig = z.infer<typeof dockerConfigSchema>;

/** Parses a docker config / `.dockerconfigjson`. The error never echoes the content: it holds secrets. */
export function parseDockerConfig(json: string, source: string): DockerConfig {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch {
    throw new Error(`${source}: not valid JSON`);
  }
  const parsed = dockerConfigSchema.safeParse(data);
  if (!parsed.success) throw new Error(`${source}: not a docker config (expected {"auths": {...}})`);
  return parsed.data;
}

/**
 * The credentials a docker config holds for `registry`, matching keys the way docker does: the bare host, an
 * URL with that host, and Docker Hub's historical `https://index.docker.io/v1/`.
 */
export function credentialsFor(config: DockerConfig, registry: string): BasicCredentials | undefined {
  const aliases =
    registry === DOCKER_HUB_REGISTRY
      ? new Set([DOCKER_HUB_REGISTRY, "docker.io", "registry-1.docker.io"])
      : new Set([registry]);
  for (const [key, entry] of Object.entries(config.auths)) {
    const host = key.replace(/^https?:\/\//, "").split("/")[0] ?? "";
    if (!aliases.has(host)) continue;
    if (entry.username !== undefined && entry.password !== undefined) {
      return { username: entry.username, password: entry.password };
    }
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, "base64").toString();
      const colon = decoded.indexOf(":");
      if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
  }
  return undefined;
}
