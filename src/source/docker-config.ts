// A source Secret's `.dockerconfigjson`, read by the one docker-config reader (src/util/registry/auth.ts) that
// image scanning uses too: same key matching (bare host, URL, Docker Hub's aliases), same refusal to echo content.
import { credentialsFor, parseDockerConfig } from "../util/registry/auth.js";
import type { BasicAuth } from "./credentials.js";

export function dockerConfigCredentials(
  json: string,
  registry: string,
  secret: string,
): BasicAuth | undefined {
  return credentialsFor(parseDockerConfig(json, `${secret}: .dockerconfigjson`), registry);
}
