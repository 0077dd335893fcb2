// The bot process's settings from its environment (and a `.env` file, as probot apps do).
// Names follow probot's, so a `.env` written by probot's setup flow works unchanged.
import { getPrivateKey } from "@probot/get-private-key";

export interface ServerEnv {
  appId?: number;
  privateKey?: string;
  webhookSecret: string;
  host: string;
  port: number;
  webhookPath: string;
  webhookProxyUrl?: string;
  /** REST API base URL: api.github.com, or `<GHE_PROTOCOL>://<GHE_HOST>/api/v3` for GitHub Enterprise Server. */
  baseUrl: string;
  logLevel: string;
}

export class ServerEnvError extends Error {
  override name = "ServerEnvError";
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
  let privateKey: string | undefined;
  try {
    privateKey = getPrivateKey({ env })?.toString() || undefined;
  } catch (err) {
    // The key's content is never part of the message; getPrivateKey only names the variable or path.
    throw new ServerEnvError(`cannot read the GitHub App private key: ${(err as Error).message}`);
  }
  return {
    appId,
    privateKey,
    webhookSecret: env.WEBHOOK_SECRET || "development",
    host: env.HOST || "localhost",
    port,
    webhookPath: env.WEBHOOK_PATH || "/api/github/webhooks",
    webhookProxyUrl: env.WEBHOOK_PROXY_URL || undefined,
    baseUrl: env.GHE_HOST
      ? `${env.GHE_PROTOCOL || "https"}://${env.GHE_HOST}/api/v3`
      : "https://api.github.com",
    logLevel: env.LOG_LEVEL || "info",
  };
}
