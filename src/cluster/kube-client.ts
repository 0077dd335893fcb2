// The one way the engine reaches a cluster: a KubeConfig (a user's kubeconfig, a named context, or in-cluster)
// and @kubernetes/client-node's generic object API, returning plain JSON objects.
import { type AgentOptions, Agent as HttpsAgent } from "node:https";
import type { Socket } from "node:net";
import {
  ApiException,
  createConfiguration,
  type HttpLibrary,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  Observable,
  type RequestContext,
  ResponseContext,
  ServerConfiguration,
} from "@kubernetes/client-node";
import { loadKubeConfigFiles } from "./kubeconfig-files.js";
import { NodeHttpLibrary } from "./node-http-library.js";
import "./wire-serializer.js";

/** One finished API request, for metrics: no path, no body, only what has a bounded set of values. */
export interface KubeRequestEvent {
  /** The API server's URL as the kubeconfig names it. */
  server: string;
  /** Kubernetes' verb for the request: get, list, create, update, patch, delete (or the HTTP method). */
  verb: string;
  /** The HTTP status, or "error" when no answer came (connection refused, TLS, timeout). */
  code: string;
  seconds: number;
}

export type KubeRequestHook = (event: KubeRequestEvent) => void;

let kubeRequestHook: KubeRequestHook | undefined;

/**
 * Process-wide: every API request any client makes is reported to `hook` (the server's metrics). One hook, set
 * once by the process entry; undefined removes it. A hook that throws is ignored.
 */
export function setKubeRequestHook(hook: KubeRequestHook | undefined): void {
  kubeRequestHook = hook;
}

/**
 * Every API request is bounded three ways, so a hung API server ends a run with an error naming it instead of
 * hanging: `connectMs` for the TCP and TLS handshake, `readMs` for silence on an open connection (no byte
 * sent or received), `requestMs` for the whole request, body included.
 */
export interface KubeTimeouts {
  connectMs: number;
  readMs: number;
  requestMs: number;
}

export const defaultKubeTimeouts: KubeTimeouts = { connectMs: 10_000, readMs: 30_000, requestMs: 30_000 };

let processTimeouts: KubeTimeouts = defaultKubeTimeouts;

/**
 * Process-wide: the timeouts of clients made from now on without timeouts of their own (the operator's setting;
 * tests shorten them). Undefined restores the defaults.
 */
export function setKubeTimeouts(timeouts: Partial<KubeTimeouts> | undefined): void {
  processTimeouts = { ...defaultKubeTimeouts, ...timeouts };
}

/** Why a request to the API server did not finish in time (or the connection broke): names the server. */
export class KubeTransportError extends Error {
  constructor(
    readonly server: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "KubeTransportError";
  }
}

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;

const LIST_PARAMS = /[?&](limit|continue|labelSelector|fieldSelector|watch)=/;

export function kubeVerb(method: string, url: string): string {
  switch (method.toUpperCase()) {
    case "GET":
      return LIST_PARAMS.test(url) ? "list" : "get";
    case "POST":
      return "create";
    case "PUT":
      return "update";
    case "PATCH":
      return "patch";
    case "DELETE":
      return "delete";
    default:
      return method.toLowerCase();
  }
}

/**
 * client-node's HTTP library, bounded by `timeouts.requestMs` (headers and body) and reporting each request to
 * the hook (looked up per request, so it may be set late).
 */
function instrumentedHttpApi(server: string, timeouts: KubeTimeouts): HttpLibrary {
  const inner = new NodeHttpLibrary();
  return {
    send(request: RequestContext) {
      const started = performance.now();
      const verb = kubeVerb(request.getHttpMethod(), request.getUrl());
      const report = (code: string) => {
        try {
          kubeRequestHook?.({ server, verb, code, seconds: (performance.now() - started) / 1000 });
        } catch {
          // A broken metric never fails a request.
        }
      };
      const deadline = new AbortController();
      const timer = setTimeout(() => deadline.abort(), timeouts.requestMs);
      timer.unref();
      const caller = request.getSignal() as AbortSignal | undefined;
      // client-node types the signal as node-fetch's; at run time it is the platform's AbortSignal.
      request.setSignal(
        (caller ? AbortSignal.any([caller, deadline.signal]) : deadline.signal) as Parameters<
          RequestContext["setSignal"]
        >[0],
      );
      const path = new URL(request.getUrl()).pathname;
      const explain = (err: unknown): Error => {
        if (deadline.signal.aborted) {
          return new KubeTransportError(
            server,
            `the API server ${server} did not answer ${request.getHttpMethod()} ${path} within ${seconds(timeouts.requestMs)}`,
            { cause: err },
          );
        }
        if (err instanceof Error && !(err instanceof ApiException) && !err.message.includes(server)) {
          return new KubeTransportError(server, `the API server ${server}: ${err.message}`, { cause: err });
        }
        return err as Error;
      };
      const done = () => clearTimeout(timer);
      return new Observable(
        inner
          .send(request)
          .toPromise()
          .then(
            (response) => {
              report(String(response.httpStatusCode));
              // The body is read after this resolves: the deadline covers it too.
              const read =
                <T>(f: () => Promise<T>) =>
                () =>
                  f().then(
                    (value) => {
                      done();
                      return value;
                    },
                    (err: unknown) => {
                      done();
                      throw explain(err);
                    },
                  );
              return new ResponseContext(response.httpStatusCode, response.headers, {
                text: read(() => response.body.text()),
                binary: read(() => response.body.binary()),
              });
            },
            (err: unknown) => {
              done();
              report("error");
              throw explain(err);
            },
          ),
      );
    },
  };
}

export interface ClusterTarget {
  /** Path to a kubeconfig; default: $KUBECONFIG or ~/.kube/config, or in-cluster config when neither exists. */
  kubeconfig?: string;
  /** Context in that kubeconfig; default: its current context. */
  context?: string;
  inCluster?: boolean;
  /** How the user gave `kubeconfig` (`--kubeconfig`), named when the file does not exist. */
  kubeconfigFrom?: string;
}

/**
 * The generic object API, but answering with the JSON the API server sent rather than client-node's model
 * classes: diffs, hashing and inventories need the wire form (strings for timestamps, no class instances).
 */
export class RawObjectApi extends KubernetesObjectApi {
  /** The KubeConfig this API was made from (for the helm binary and for impersonation). */
  kubeConfig?: KubeConfig;
  private readonly impersonated = new Map<string, RawObjectApi>();

  /** The timeouts every request of this client is bounded by. */
  timeouts: KubeTimeouts = defaultKubeTimeouts;

  static fromKubeConfig(kc: KubeConfig, timeouts: Partial<KubeTimeouts> = {}): RawObjectApi {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error("no Kubernetes cluster configured in the kubeconfig");
    const bounds = { ...processTimeouts, ...timeouts };
    const api = new RawObjectApi(
      createConfiguration({
        baseServer: new ServerConfiguration(cluster.server, {}),
        httpApi: instrumentedHttpApi(cluster.server, bounds),
        authMethods: { default: pooledAuthentication(kc, cluster.server, bounds) },
      }),
    );
    api.setDefaultNamespace(kc);
    api.kubeConfig = kc;
    api.timeouts = bounds;
    return api;
  }

  /**
   * The same cluster, every request made as `user` (the `Impersonate-User` header, as Flux does for a
   * Kustomization's serviceAccountName): the API server's RBAC for that user decides, not the bot's own rights.
   * One client per user, kept, so its connections and discovery cache are reused.
   */
  impersonating(user: string): RawObjectApi {
    let api = this.impersonated.get(user);
    if (!api) {
      if (!this.kubeConfig) throw new Error(`cannot act as ${user}: this API client has no KubeConfig`);
      api = RawObjectApi.fromKubeConfig(impersonatedKubeConfig(this.kubeConfig, user), this.timeouts);
      this.impersonated.set(user, api);
    }
    return api;
  }

  /**
   * Whether a kind is namespaced, from the API server's discovery; undefined when the server does not serve it.
   * Other discovery failures (401, 5xx) are thrown: guessing a scope could put objects in the wrong namespace.
   */
  async isNamespaced(apiVersion: string, kind: string): Promise<boolean | undefined> {
    try {
      return (await this.resource(apiVersion, kind))?.namespaced;
    } catch (err) {
      if (apiStatus(err) === 404) return undefined;
      throw err;
    }
  }

  protected override async processResponse<T extends KubernetesObject>(
    response: Parameters<KubernetesObjectApi["processResponse"]>[0],
  ): Promise<T> {
    const text = await response.body.text();
    if (response.httpStatusCode >= 200 && response.httpStatusCode <= 299) {
      return JSON.parse(text) as T;
    }
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    throw new ApiException(response.httpStatusCode, "Unsuccessful HTTP Request", body, response.headers);
  }
}

/**
 * client-node builds a new https.Agent for every request, so every call pays a TCP and TLS handshake; an
 * apply of a thousand objects spends most of its time there. This keeps the kubeconfig's authentication
 * (headers, exec plugins, token refresh) and swaps in one keep-alive agent per distinct TLS identity.
 * Proxy agents are left alone.
 */
function pooledAuthentication(kc: KubeConfig, server: string, timeouts: KubeTimeouts) {
  const agents = new Map<string, HttpsAgent>();
  // What the kubeconfig's authentication produced, reused briefly: running it builds TLS options and an
  // agent each time (a third of a millisecond per request). Tokens from exec plugins live for minutes, so a
  // few seconds of reuse never sends an expired one.
  let recent: { headers: [string, string][]; agent: HttpsAgent | undefined; at: number } | undefined;
  const resolve = async () => {
    if (recent && Date.now() - recent.at < AUTH_REUSE_MS) return recent;
    const headers: [string, string][] = [];
    let agent: unknown;
    await kc.applySecurityAuthentication({
      setHeaderParam: (key: string, value: string) => headers.push([key, value]),
      setAgent: (a: unknown) => {
        agent = a;
      },
    } as unknown as RequestContext);
    let pooled: HttpsAgent | undefined;
    // Proxy agents and plain HTTP are left as client-node made them (pooled stays undefined: not reused).
    if (agent && (agent as object).constructor === HttpsAgent) {
      const options = (agent as HttpsAgent & { options: AgentOptions }).options;
      const key = JSON.stringify([
        options.ca,
        options.cert,
        options.key,
        options.pfx,
        options.rejectUnauthorized,
        options.servername,
      ]);
      pooled = agents.get(key);
      if (!pooled) {
        pooled = boundedAgent(
          new HttpsAgent({ ...options, keepAlive: true, maxSockets: 32, timeout: timeouts.readMs }),
          server,
          timeouts,
        );
        agents.set(key, pooled);
      }
      (agent as HttpsAgent).destroy();
      recent = { headers, agent: pooled, at: Date.now() };
      return recent;
    }
    return { headers, agent: agent as HttpsAgent | undefined, at: 0 };
  };
  return {
    getName: () => "kubeconfig authentication, pooled connections",
    /** For code that needs the kubeconfig itself (the helm binary): see helm/run-helm-releases.ts. */
    kubeConfig: kc,
    applySecurityAuthentication: async (context: RequestContext): Promise<void> => {
      const auth = await resolve();
      for (const [key, value] of auth.headers) context.setHeaderParam(key, value);
      if (auth.agent) context.setAgent(auth.agent);
    },
  };
}

const AUTH_REUSE_MS = 2_000;

/**
 * Bounds the agent's connections: a handshake not done within `connectMs`, or a connection silent for `readMs`
 * is destroyed with an error naming the API server (an idle pooled connection is only dropped by the agent).
 */
function boundedAgent(agent: HttpsAgent, server: string, timeouts: KubeTimeouts): HttpsAgent {
  type Connect = (options: object, callback: (err: Error | null, socket: Socket) => void) => Socket;
  const connect = (agent as unknown as { createConnection: Connect }).createConnection.bind(agent);
  (agent as unknown as { createConnection: Connect }).createConnection = (options, callback) => {
    const socket = connect(options, callback);
    const handshake = setTimeout(() => {
      socket.destroy(
        new KubeTransportError(
          server,
          `cannot connect to the API server ${server} within ${seconds(timeouts.connectMs)}`,
        ),
      );
    }, timeouts.connectMs);
    handshake.unref();
    socket.once("secureConnect", () => clearTimeout(handshake));
    socket.once("close", () => clearTimeout(handshake));
    // Node's agent handles an error on an idle pooled connection (it only drops it); a busy one fails its request.
    socket.on("timeout", () => {
      socket.destroy(
        new KubeTransportError(
          server,
          `the API server ${server} sent nothing for ${seconds(timeouts.readMs)}`,
        ),
      );
    });
    return socket;
  };
  return agent;
}

/**
 * A copy of `kc` whose current user acts as `user` (kubeconfig `as:`): client-node sends `Impersonate-User`,
 * and the helm binary, given this kubeconfig, impersonates the same way.
 */
export function impersonatedKubeConfig(kc: KubeConfig, user: string): KubeConfig {
  const current = kc.getCurrentUser();
  if (!current) throw new Error(`cannot act as ${user}: the kubeconfig has no current user`);
  if (current.impersonateUser && current.impersonateUser !== user) {
    throw new Error(`cannot act as ${user}: the kubeconfig already acts as ${current.impersonateUser}`);
  }
  const copy = new KubeConfig();
  copy.loadFromOptions({
    clusters: kc.clusters,
    contexts: kc.contexts,
    currentContext: kc.currentContext,
    users: kc.users.map((u) => (u.name === current.name ? { ...u, impersonateUser: user } : u)),
  });
  return copy;
}

export function loadKubeConfig(target: ClusterTarget = {}): KubeConfig {
  const kc = new KubeConfig();
  if (target.inCluster) {
    kc.loadFromCluster();
  } else {
    loadKubeConfigFiles(kc, target);
  }
  if (target.context) {
    if (!kc.getContextObject(target.context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw new Error(
        `kubeconfig has no context "${target.context}" (contexts: ${known.join(", ") || "none"})`,
      );
    }
    kc.setCurrentContext(target.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new Error(
      "no Kubernetes cluster configured: set KUBECONFIG, pass --kubeconfig, or run in a cluster",
    );
  }
  return kc;
}

export function makeObjectApi(kc: KubeConfig, timeouts: Partial<KubeTimeouts> = {}): RawObjectApi {
  return RawObjectApi.fromKubeConfig(kc, timeouts);
}

/** Where failed calls are read (re-exported: most callers hold this module already). */
import { apiMessage, apiStatus } from "./api-errors.js";

export { apiMessage, apiStatus };
