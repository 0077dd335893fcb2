// The check as text, `flux check --pre` style: one line per finding, missing permissions with why and the rule.

import { describePermission, rbacRuleFor } from "../cluster/preflight/permission.js";
import type { ClusterCheck } from "./check-cluster.js";
import type { ToolCheck } from "./tools.js";

export function renderTools(tools: readonly ToolCheck[]): string {
  return tools
    .map((t) =>
      t.ok ? `✓ ${t.tool} ${t.version} (${t.binary})\n` : `✗ ${t.tool} (${t.binary}): ${t.error}\n`,
    )
    .join("");
}

export function renderClusterCheck(c: ClusterCheck): string {
  const lines = [`◎ cluster ${c.cluster} (${c.server})`];
  if (!c.reachable) {
    lines.push(`✗ ${c.error}`);
    return `${lines.join("\n")}\n`;
  }
  lines.push(`✓ reachable: Kubernetes ${c.serverVersion}`);
  if (c.error) lines.push(`✗ permissions could not be checked: ${c.error}`);
  const allowed = c.permissions.filter((p) => p.allowed).length;
  if (c.permissions.length > 0) lines.push(`✓ ${allowed} of ${c.permissions.length} permissions allowed`);
  // A review that could not even be asked (the bot may not impersonate the account) is one finding per
  // account and cause, not one per permission.
  const unasked = new Map<string, number>();
  for (const p of c.permissions) {
    if (p.allowed) continue;
    const r = p.requirement;
    if (p.error) {
      const key = `${r.as ? `permissions of ${r.as}` : "permissions"} not checked — ${p.error}`;
      unasked.set(key, (unasked.get(key) ?? 0) + 1);
      continue;
    }
    lines.push(`✗ ${describePermission(r)} — ${r.reasons.join("; ")}`);
    lines.push(`    allow with: ${rbacRuleFor(r)}`);
  }
  for (const [what, count] of unasked) lines.push(`✗ ${count} ${what}`);
  for (const note of c.notes) lines.push(`  note: ${note}`);
  return `${lines.join("\n")}\n`;
}

/** The first line of each missing permission, for logs and /readyz: `create customresourcedefinitions (cluster-wide)`. */
export function missingPermissions(c: ClusterCheck): string[] {
  return c.permissions.filter((p) => !p.allowed).map((p) => describePermission(p.requirement));
}
