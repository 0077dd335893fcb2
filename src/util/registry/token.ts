// The registry token conversation, decided in one place for OCI sources, OCI Helm charts and image scans: how a
// 401 is answered (Bearer token from the realm the registry names, or Basic credentials), which realm URL is
// asked, and whether the credentials may go with it — only to the registry's own host (or its known token
// host: realmMayHaveCredentials), never to a realm elsewhere, which is asked anonymously. Each client sends the
// request with its own transport (deadline, retries); what it sends and to whom is decided here.
import { realmMayHaveCredentials } from "../outbound/index.js";
import { type BasicCredentials, basicAuthorization, type Challenge, parseChallenges } from "./auth.js";

/** How to answer a registry's 401, from its `WWW-Authenticate` header. */
export type ChallengeAnswer =
  | { scheme: "bearer"; challenge: Challenge }
  | { scheme: "basic" }
  | { scheme: "none" };

export function answerFor(wwwAuthenticate: string | null): ChallengeAnswer {
  const challenges = parseChallenges(wwwAuthenticate ?? "");
  const bearer = challenges.find((c) => c.scheme === "bearer");
  if (bearer) return { scheme: "bearer", challenge: bearer };
  if (challenges.some((c) => c.scheme === "basic")) return { scheme: "basic" };
  return { scheme: "none" };
}

/** What to ask a token realm: the URL, and the Authorization header when the credentials may go there. */
export interface TokenRequest {
  url: URL;
  authorization?: string;
  /** Credentials were given but held back: the realm is on another host. */
  withheld: boolean;
}

export class TokenRequestError extends Error {
  override name = "TokenRequestError";
}

/**
 * The token request for a Bearer challenge from the registry at `registryUrl`; `defaultScope` is used when
 * the challenge names none (`repository:<name>:pull`). Throws TokenRequestError for a realm that is missing,
 * not a URL or not http(s).
 */
export function tokenRequest(
  challenge: Challenge,
  registryUrl: URL,
  defaultScope: string,
  credentials: BasicCredentials | undefined,
): TokenRequest {
  const realm = challenge.params.realm;
  if (!realm) throw new TokenRequestError("Bearer challenge without a realm");
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw new TokenRequestError("the Bearer challenge's realm is not a URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw new TokenRequestError(
      `the Bearer challenge's realm must be an http(s) URL (found ${url.protocol})`,
    );
  // A realm never carries user information of its own: only our credentials, and only when they may go.
  url.username = "";
  url.password = "";
  if (challenge.params.service) url.searchParams.set("service", challenge.params.service);
  // The challenge's scope is what the registry wants; ours is the fallback for registries that omit it.
  url.searchParams.set("scope", challenge.params.scope ?? defaultScope);
  const allowed = credentials !== undefined && realmMayHaveCredentials(registryUrl, url);
  return {
    url,
    ...(allowed ? { authorization: basicAuthorization(credentials) } : {}),
    withheld: credentials !== undefined && !allowed,
  };
}

/** The token of a token service's JSON answer (`token` or `access_token`), or undefined; never one with CR/LF. */
export function tokenFromAnswer(body: unknown): { token: string; expiresInSeconds?: number } | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const answer = body as { token?: unknown; access_token?: unknown; expires_in?: unknown };
  const token = typeof answer.token === "string" && answer.token !== "" ? answer.token : answer.access_token;
  if (typeof token !== "string" || token === "" || /[\r\n]/.test(token)) return undefined;
  return {
    token,
    ...(typeof answer.expires_in === "number" ? { expiresInSeconds: answer.expires_in } : {}),
  };
}
