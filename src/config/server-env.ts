// The bot process's settings from its environment (and a `.env` file, as probot apps do).
// Names follow probot's, so a `.env` written by probot's setup flow works unchanged.
import { getPrivateKey } from "@probot/get-private-key";

export interface ServerEnv {
  /** NODE_ENV=production: a real webhook secret and app credentials are required; no setup mode. */
  production: boolean;
  appId?: number;
  privateKey?: string;
  webhookSecret: string;
  host: string;
  port: number;
  /** METRICS_PORT: serve /metrics on its own port (1–65535); unset serves it on the app's port. */
  metricsPort?: number;
  webhookPath: string;
  webhookProxyUrl?: string;
  /** REST API base URL: api.github.com, or `<GHE_PROTOCOL>://<GHE_HOST>/api/v3` for GitHub Enterprise Server. */
  baseUrl: string;
  logLevel: string;
  /** REDIS_URL: see readRedisUrl. */
  redisUrl?: string;
}

export class ServerEnvError extends Error {
  override name = "ServerEnvError";
}

/** The webhook secret of development setups (probot's default): anyone can sign webhooks with it. */
export const DEVELOPMENT_WEBHOOK_SECRET = "development";
export const MIN_WEBHOOK_SECRET_LENGTH = 16;
const MIN_DISTINCT_CHARACTERS = 8;
const PLACEHOLDERS = ["development", "changeme", "change-me", "example", "webhooksecret", "webhook-secret"];

/**
 * Why a production webhook secret is not good enough, or undefined. Never includes the secret: the message
 * goes to the console.
 */
export function weakWebhookSecret(secret: string | undefined): string | undefined {
  if (secret === undefined) return "it is not set";
  if (secret === "") return "it is empty";
  const lower = secret.toLowerCase();
  if (PLACEHOLDERS.some((p) => lower.includes(p))) return "it is a development or placeholder value";
  if (secret.length < MIN_WEBHOOK_SECRET_LENGTH) return `it has ${secret.length} characters`;
  if (new Set(secret).size < MIN_DISTINCT_CHARACTERS) return "it has too few distinct characters";
  return undefined;
}

/**
 * REDIS_URL (`redis://` or `rediss://`): the queue, delivery log and timers live in Redis, shared by every
 * replica; unset (or empty) keeps them in this process. The URL may hold a password: never log it.
 */
export function readRedisUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const raw = env.REDIS_URL?.trim();
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ServerEnvError("REDIS_URL must be a redis:// or rediss:// URL");
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    throw new ServerEnvError(`REDIS_URL must be a redis:// or rediss:// URL, got a ${url.protocol} URL`);
  }
  return raw;
}

export function readServerEnv(env: NodeJS.ProcessEnv = process.env): ServerEnv {
  const appId = env.APP_ID ? Number(env.APP_ID) : undefined;
  if (appId !== undefined && (!Number.isInteger(appId) || appId <= 0)) {
    throw new ServerEnvError(`APP_ID must be the numeric ID of the GitHub App, got "${env.APP_ID}"`);
  }
  const port = env.PORT ? Number(env.PORT) : 3000;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ServerEnvError(`PORT must be a TCP port number, got "${env.PORT}"`);
  }
  const rawMetricsPort = env.METRICS_PORT?.trim();
  const metricsPort = rawMetricsPort ? Number(rawMetricsPort) : undefined;
  if (
    metricsPort !== undefined &&
    (!Number.isInteger(metricsPort) || metricsPort < 1 || metricsPort > 65535)
  ) {
    throw new ServerEnvError(`METRICS_PORT must be a port number (1-65535), got "${rawMetricsPort}"`);
  }
  let privateKey: string | undefined;
  try {
    privateKey = getPrivateKey({ env })?.toString() || undefined;
  } catch (err) {
    // The key's content is never part of the message; getPrivateKey only names the variable or path.
    throw new ServerEnvError(`cannot read the GitHub App private key: ${(err as Error).message}`);
  }
  const production = env.NODE_ENV === "production";
  if (production) {
    // Anyone who knows the secret can send the bot webhooks that look like GitHub's (pushes, commands).
    const weak = weakWebhookSecret(env.WEBHOOK_SECRET);
    if (weak) {
      throw new ServerEnvError(
        `WEBHOOK_SECRET is required when NODE_ENV=production and must be a random value of at least ${MIN_WEBHOOK_SECRET_LENGTH} characters (the same as in the GitHub App's settings; e.g. \`openssl rand -hex 32\`); ${weak}`,
      );
    }
    // Setup mode registers a new GitHub App from whoever opens the page first: never in production.
    if (!appId || !privateKey) {
      throw new ServerEnvError(
        "APP_ID and PRIVATE_KEY (or PRIVATE_KEY_PATH) are required when NODE_ENV=production; the setup flow is for development only",
      );
    }
  }
  return {
    production,
    appId,
    privateKey,
    webhookSecret: env.WEBHOOK_SECRET || DEVELOPMENT_WEBHOOK_SECRET,
    host: env.HOST || "localhost",
    port,
    metricsPort,
    webhookPath: env.WEBHOOK_PATH || "/api/github/webhooks",
    webhookProxyUrl: env.WEBHOOK_PROXY_URL || undefined,
    baseUrl: env.GHE_HOST
      ? `${env.GHE_PROTOCOL || "https"}://${env.GHE_HOST}/api/v3`
      : "https://api.github.com",
    logLevel: env.LOG_LEVEL || "info",
    redisUrl: readRedisUrl(env),
  };
}
