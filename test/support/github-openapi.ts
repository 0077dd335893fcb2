/**
 * Checks requests made to the GitHub REST API against GitHub's own published OpenAPI description, so that a
 * test mock cannot accept a request the real API would reject (a misspelt field, a wrong enum value, a route
 * that does not exist). Only request bodies are validated: responses are written by the tests themselves.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
// ajv-formats is CommonJS with an `exports.default` alias; under NodeNext the default import is typed as the
// module object, so call its `.default`, which exists at run time too.
import ajvFormats from "ajv-formats";

/** A request as seen on the wire, before any GitHub client decoded it. */
export interface GitHubRequest {
  method: string;
  /** Path with optional query string, or a full URL. */
  path: string;
  /** Parsed JSON, a JSON string, or undefined when the request had no body. */
  body?: unknown;
  /** The API base URL the client was configured with; its path (e.g. GHE's `/api/v3`) is stripped. */
  baseUrl?: string;
}

type JsonSchema = Record<string, unknown>;

interface OpenApiOperation {
  operationId: string;
  requestBody?: {
    content?: Record<string, { schema?: JsonSchema }>;
  };
}

interface OpenApiDocument {
  paths: Record<string, Record<string, unknown>>;
  components: Record<string, unknown>;
}

/** One path template, split so that it can be matched segment by segment against a concrete path. */
interface Route {
  template: string;
  segments: RouteSegment[];
  /** Ends in a file path or git ref parameter that may hold unencoded slashes. */
  slashTolerant: boolean;
  operations: Map<string, OpenApiOperation>;
}

interface RouteSegment {
  pattern: RegExp;
  /** 2 for a literal, 1 for a literal with a parameter in it (`{base}...{head}`), 0 for a bare parameter. */
  specificity: number;
}

interface OperationMatch {
  template: string;
  operation: OpenApiOperation;
}

const SPEC_FILE = "@octokit/openapi/generated/api.github.com.json";
/** Id under which the components are registered in ajv; every `#/components/...` ref is rewritten onto it. */
const COMPONENTS_ID = "https://api.github.com/openapi.json";
/**
 * Routes whose trailing file path or git ref GitHub also accepts with unencoded slashes (its docs show
 * `git/ref/heads/feature`). `commits/{ref}` is left out: it shares its prefix with `commits/{ref}/status` and
 * friends, where a typo should be reported, not read as a ref.
 */
const SLASH_TOLERANT_SUFFIXES = [
  "/contents/{path}",
  "/git/ref/{ref}",
  "/git/refs/{ref}",
  "/git/matching-refs/{ref}",
  "/tarball/{ref}",
  "/zipball/{ref}",
];
const HTTP_METHODS = new Set(["get", "put", "post", "patch", "delete", "head", "options"]);

interface LoadedSpec {
  routes: Route[];
  ajv: Ajv;
  validators: Map<string, ValidateFunction | null>;
}

let loaded: LoadedSpec | undefined;

/**
 * Finds the GitHub operation a request targets and validates its JSON body.
 * Returns the operationId (e.g. `repos/create-commit-status`); throws an Error naming the method, path and
 * every schema violation when the route is unknown or the body does not match.
 */
export function checkGitHubRequest(request: GitHubRequest): string {
  // GitHub answers HEAD on every GET route; the description lists only the GET.
  const method = request.method.toLowerCase() === "head" ? "get" : request.method.toLowerCase();
  const path = apiPath(request.path, request.baseUrl);
  const label = `${request.method.toUpperCase()} ${path}`;
  const match = findOperation(method, path);
  if (!match) {
    throw new Error(
      `GitHub API check failed for ${label}: no such operation in GitHub's OpenAPI description`,
    );
  }
  const { operation } = match;
  const problems = bodyProblems(operation, request.body);
  if (problems.length > 0) {
    const list = problems.map((problem) => `  - ${problem}`).join("\n");
    throw new Error(
      `GitHub API check failed for ${label} (${operation.operationId}, ${match.template}): ` +
        `request body does not match the schema:\n${list}`,
    );
  }
  return operation.operationId;
}

/** The request path relative to the API root, without query string. */
function apiPath(rawPath: string, baseUrl: string | undefined): string {
  // A dummy origin lets one parser handle both full URLs and bare paths.
  let path = new URL(rawPath, "http://localhost").pathname;
  // Without a base URL, assume GHE's prefix: no api.github.com path starts with /api/v3.
  const prefix = baseUrl ? new URL(baseUrl).pathname.replace(/\/+$/, "") : "/api/v3";
  if (prefix && (path === prefix || path.startsWith(`${prefix}/`))) {
    path = path.slice(prefix.length) || "/";
  }
  return path;
}

function findOperation(method: string, path: string): OperationMatch | undefined {
  // Split before decoding: octokit encodes a `/` inside a parameter (a ref, a file path) as %2F.
  const segments = path.split("/").slice(1).map(safeDecode);
  let best: { route: Route; operation: OpenApiOperation; score: number[] } | undefined;
  for (const route of spec().routes) {
    const operation = route.operations.get(method);
    if (!operation || !matchesSegments(route.segments, segments)) continue;
    const score = route.segments.map((segment) => segment.specificity);
    if (!best || compareScores(score, best.score) > 0) best = { route, operation, score };
  }
  if (best) return { template: best.route.template, operation: best.operation };
  // Octokit encodes a `/` in a file path or ref as %2F, but hand-built URLs often do not
  // (`contents/docs/README.md`). Let only such trailing parameters absorb the remaining segments, and only
  // when nothing matched exactly, so that this can never shadow a route.
  for (const route of spec().routes) {
    const operation = route.operations.get(method);
    if (!operation || !route.slashTolerant || route.segments.length >= segments.length) continue;
    const head = segments.slice(0, route.segments.length - 1);
    const tail = segments.slice(route.segments.length - 1).join("/");
    if (matchesSegments(route.segments, [...head, tail])) return { template: route.template, operation };
  }
  return undefined;
}

function matchesSegments(route: RouteSegment[], segments: string[]): boolean {
  return route.length === segments.length && route.every((segment, i) => segment.pattern.test(segments[i]!));
}

/** Literal segments beat parameters, earliest difference first, as in most HTTP routers. */
function compareScores(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return 0;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function bodyProblems(operation: OpenApiOperation, body: unknown): string[] {
  const parsed = parseBody(body);
  if (parsed.error) return [parsed.error];
  const { requestBody } = operation;
  if (!requestBody) {
    return isEmptyBody(parsed.value) ? [] : ["this operation takes no request body, but one was sent"];
  }
  const validate = validatorFor(operation);
  // Raw uploads (release assets, markdown as text/plain) carry no JSON schema to check.
  if (validate === null) return [];
  // Octokit sends no body when a call passes no body parameters; GitHub treats that like `{}`.
  const value = parsed.value ?? {};
  if (validate(value)) return [];
  return (validate.errors ?? []).map(describeError);
}

function parseBody(body: unknown): { value?: unknown; error?: string } {
  if (typeof body !== "string" && !(body instanceof Uint8Array)) return { value: body };
  const text = typeof body === "string" ? body : Buffer.from(body).toString("utf8");
  if (text.trim() === "") return { value: undefined };
  try {
    return { value: JSON.parse(text) };
  } catch (error) {
    return { error: `body is not valid JSON: ${(error as Error).message}` };
  }
}

function isEmptyBody(value: unknown): boolean {
  return (
    value === undefined ||
    value === null ||
    (typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 0)
  );
}

function describeError(error: ErrorObject): string {
  const where = error.instancePath === "" ? "body" : `body${error.instancePath}`;
  const params = error.params as Record<string, unknown>;
  let detail = "";
  if (Array.isArray(params.allowedValues)) detail = `: ${params.allowedValues.map(String).join(", ")}`;
  else if (typeof params.additionalProperty === "string") detail = `: ${params.additionalProperty}`;
  const actual = error.data === undefined ? "" : ` (got ${JSON.stringify(error.data)})`;
  return `${where} ${error.message ?? error.keyword}${detail}${actual}`;
}

/** Compiled once per operation; `null` when the operation has no JSON body schema. */
function validatorFor(operation: OpenApiOperation): ValidateFunction | null {
  const { ajv, validators } = spec();
  const cached = validators.get(operation.operationId);
  if (cached !== undefined) return cached;
  const schema = operation.requestBody?.content?.["application/json"]?.schema;
  const validate = schema ? ajv.compile(rewriteRefs(schema) as JsonSchema) : null;
  validators.set(operation.operationId, validate);
  return validate;
}

/**
 * Points the body schema's local refs at the shared components document, so that ajv compiles only what the
 * operation reaches instead of a copy of all components per operation.
 */
function rewriteRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (!value || typeof value !== "object") return value;
  const copy: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    copy[key] =
      key === "$ref" && typeof child === "string" && child.startsWith("#/")
        ? COMPONENTS_ID + child
        : rewriteRefs(child);
  }
  return copy;
}

/** Parses the 13 MB description on first use only: most test files never talk to GitHub. */
function spec(): LoadedSpec {
  if (loaded) return loaded;
  const file = createRequire(import.meta.url).resolve(SPEC_FILE);
  const document = JSON.parse(readFileSync(file, "utf8")) as OpenApiDocument;
  if (typeof document.paths !== "object" || typeof document.components !== "object") {
    throw new Error(`${file} does not look like an OpenAPI description (no paths or components)`);
  }
  normaliseNullable(document.components);
  normaliseNullable(document.paths);

  const ajv = new Ajv({
    // GitHub's schemas use OpenAPI keywords (`example`, `x-github`, ...) that strict mode rejects.
    strict: false,
    allErrors: true,
    // Lets error messages show the offending value.
    verbose: true,
    // The components are a document of schemas, not a schema; nothing to meta-validate at the root.
    validateSchema: false,
  });
  ajvFormats.default(ajv);
  // GitHub-specific formats: documentation only, the API does not reject on them either.
  ajv.addFormat("repo.nwo", true);
  ajv.addFormat("int64", true);
  ajv.addSchema({ $id: COMPONENTS_ID, components: document.components });

  loaded = { routes: buildRoutes(document), ajv, validators: new Map() };
  return loaded;
}

function buildRoutes(document: OpenApiDocument): Route[] {
  return Object.entries(document.paths).map(([template, item]) => {
    const operations = new Map<string, OpenApiOperation>();
    for (const [method, operation] of Object.entries(item)) {
      if (HTTP_METHODS.has(method)) operations.set(method, operation as OpenApiOperation);
    }
    const slashTolerant = SLASH_TOLERANT_SUFFIXES.some((suffix) => template.endsWith(suffix));
    return { template, segments: template.split("/").slice(1).map(routeSegment), slashTolerant, operations };
  });
}

function routeSegment(text: string): RouteSegment {
  const parts = text.split(/(\{[^}]+\})/).filter((part) => part !== "");
  const isParameter = (part: string) => part.startsWith("{") && part.endsWith("}");
  const source = parts.map((part) => (isParameter(part) ? ".+?" : escapeRegExp(part))).join("");
  const parameters = parts.filter(isParameter).length;
  const specificity = parameters === 0 ? 2 : parameters < parts.length ? 1 : 0;
  return { pattern: new RegExp(`^${source}$`), specificity };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Rewrites OpenAPI 3.0 `nullable: true` (in place, on our private parse) into what ajv understands, so that a
 * null GitHub accepts (`state_reason: null` on an issue) is not reported as a violation:
 * - next to `enum`, ajv checks the enum even for null, so null joins the enum;
 * - without `type` (beside `allOf`/`$ref`), ajv refuses to compile it, so it becomes `anyOf [schema, null]`.
 */
function normaliseNullable(value: unknown): void {
  if (Array.isArray(value)) {
    for (const item of value) normaliseNullable(item);
    return;
  }
  if (!value || typeof value !== "object") return;
  const node = value as Record<string, unknown>;
  for (const child of Object.values(node)) normaliseNullable(child);
  if (node.nullable !== true) return;
  if (Array.isArray(node.enum) && !node.enum.includes(null)) node.enum = [...node.enum, null];
  if (node.type === undefined) {
    const inner: Record<string, unknown> = { ...node };
    delete inner.nullable;
    for (const key of Object.keys(node)) delete node[key];
    node.anyOf = [inner, { type: "null" }];
  }
}
