// A Kustomization's `spec.healthCheckExprs`: CEL expressions (Common Expression Language, evaluated by
// @bufbuild/cel) that say when objects of one apiVersion and kind are healthy, for custom resources whose status
// kstatus cannot read. Flux's semantics (RFC 0009): an object whose status.observedGeneration differs from its
// metadata.generation is in progress; otherwise `inProgress`, `failed` and `current` are evaluated in that order
// and the first that is true decides; none true is in progress. The object's top-level fields are the
// variables (`status`, `metadata`, `spec`…). An expression that cannot be evaluated (a field the object does
// not have yet) counts as in progress, with CEL's message, so the wait ends at the timeout as Flux's does.
// Expressions come from the repository: they are parsed once, run over one object each, and have no function
// beyond CEL's standard library (no I/O, bounded by the object's size).
import { celEnv, isCelError, parse, plan } from "@bufbuild/cel";
import type { KubernetesObject } from "@kubernetes/client-node";
import type { Health } from "./health.js";

export interface HealthCheckExpr {
  apiVersion: string;
  kind: string;
  current: string;
  inProgress?: string;
  failed?: string;
}

type Program = (vars: Record<string, unknown>) => unknown;

/** CEL's standard library only: no extension functions. */
const env = celEnv();

interface Compiled {
  apiVersion: string;
  kind: string;
  rules: Array<{ field: "inProgress" | "failed" | "current"; source: string; run: Program }>;
}

/** A health assessor for the kinds the expressions cover; undefined for other kinds. */
export type ExprAssessor = (obj: KubernetesObject) => Health | undefined;

export class HealthExprError extends Error {
  override name = "HealthExprError";
}

/** Parses every expression; a syntax error names its field (`spec.healthCheckExprs[1].current`). */
export function compileHealthExprs(exprs: readonly HealthCheckExpr[]): ExprAssessor {
  const compiled: Compiled[] = exprs.map((e, i) => ({
    apiVersion: e.apiVersion,
    kind: e.kind,
    rules: (["inProgress", "failed", "current"] as const)
      .filter((field) => e[field] !== undefined && e[field] !== "")
      .map((field) => {
        const source = e[field] as string;
        let run: Program;
        if (source.length > MAX_EXPR_CHARS)
          throw new HealthExprError(
            `spec.healthCheckExprs[${i}].${field}: longer than ${MAX_EXPR_CHARS} characters`,
          );
        try {
          const parsed = parse(source);
          const tooCostly = costProblem(parsed);
          if (tooCostly) throw new HealthExprError(`spec.healthCheckExprs[${i}].${field}: ${tooCostly}`);
          run = plan(env, parsed) as unknown as Program;
        } catch (err) {
          if (err instanceof HealthExprError) throw err;
          throw new HealthExprError(
            `spec.healthCheckExprs[${i}].${field}: not a valid CEL expression: ${firstLine(err)}`,
            { cause: err },
          );
        }
        return { field, source, run };
      }),
  }));
  return (obj) => {
    const rule = compiled.find((c) => c.apiVersion === obj.apiVersion && c.kind === obj.kind);
    return rule ? evaluate(rule, obj) : undefined;
  };
}

const STATUS = { inProgress: "InProgress", failed: "Failed", current: "Current" } as const;

function evaluate(rule: Compiled, obj: KubernetesObject): Health {
  const o = obj as KubernetesObject & { status?: { observedGeneration?: unknown } };
  const observed = o.status?.observedGeneration;
  const generation = o.metadata?.generation;
  if (typeof observed === "number" && typeof generation === "number" && observed !== generation)
    return {
      status: "InProgress",
      message: `observed generation ${observed} is not generation ${generation}`,
    };
  const vars = Object.fromEntries(
    Object.entries(obj as Record<string, unknown>).map(([k, v]) => [k, toCel(v)]),
  );
  for (const r of rule.rules) {
    let value: unknown;
    try {
      value = r.run(vars);
    } catch (err) {
      value = err;
    }
    if (isCelError(value) || value instanceof Error)
      return {
        status: "InProgress",
        message: `healthCheckExprs ${r.field} (${r.source}): ${firstLine(value)}`,
      };
    if (value === true)
      return { status: STATUS[r.field], message: `healthCheckExprs ${r.field} is true (${r.source})` };
  }
  return { status: "InProgress", message: "no healthCheckExprs expression is true yet" };
}

// Expressions come from the repository and run on the bot's event loop: their cost is bounded before they are
// planned. A comprehension (all, exists, filter, map…) inside another inside another multiplies list sizes, so
// nesting deeper than MAX_COMPREHENSION_DEPTH is refused, and literal lists are short: what is left costs the
// object's own list sizes squared at most (conditions, containers — tens of entries).
const MAX_EXPR_CHARS = 1024;
const MAX_COMPREHENSION_DEPTH = 2;
const MAX_LITERAL_LIST = 64;

/** Why an expression's worst case is too costly to run, or undefined. */
function costProblem(parsed: unknown): string | undefined {
  let problem: string | undefined;
  // `depth` counts the comprehension bodies around a node: a chain (`filter(…).all(…)`) is linear, a
  // comprehension inside another's body multiplies.
  const walk = (node: unknown, depth: number): void => {
    if (problem || !node || typeof node !== "object") return;
    if (Array.isArray(node)) {
      for (const n of node) walk(n, depth);
      return;
    }
    const kind = (node as { exprKind?: { case?: string; value?: Record<string, unknown> } }).exprKind;
    if (kind?.case === "comprehensionExpr" && kind.value) {
      if (depth + 1 > MAX_COMPREHENSION_DEPTH) {
        problem = `comprehensions (all, exists, filter, map) nested deeper than ${MAX_COMPREHENSION_DEPTH} are not allowed: their cost multiplies`;
        return;
      }
      const c = kind.value;
      walk(c.iterRange, depth);
      walk(c.accuInit, depth);
      for (const body of [c.loopCondition, c.loopStep, c.result]) walk(body, depth + 1);
      return;
    }
    if (
      kind?.case === "listExpr" &&
      ((kind.value?.elements as unknown[] | undefined)?.length ?? 0) > MAX_LITERAL_LIST
    ) {
      problem = `a list literal of more than ${MAX_LITERAL_LIST} elements is not allowed`;
      return;
    }
    for (const [key, child] of Object.entries(node)) if (key !== "$typeName") walk(child, depth);
  };
  walk(parsed, 0);
  return problem;
}

/** JSON values as CEL sees Kubernetes' unstructured objects: whole numbers are ints, objects are maps. */
function toCel(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toCel);
  if (value && typeof value === "object")
    return new Map(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, toCel(v)]));
  if (typeof value === "number" && Number.isInteger(value)) return BigInt(value);
  return value;
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split("\n")[0] ?? message;
}
