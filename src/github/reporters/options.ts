// The operator's report settings (operator config `reports:`), read with their defaults. The field lives in
// the operator config file's schema; until it is there, an absent section means the defaults.
import type { OperatorConfig } from "../../config/operator-config.js";

export interface ReportOptions {
  /** Pending statuses per Kustomization and HelmRelease while they reconcile, and a pending cluster status. */
  pendingStatuses: boolean;
}

export function reportOptions(operator: OperatorConfig): ReportOptions {
  // `reports` is not in the operator schema yet (see docs): read it if present, never require it.
  const reports = (operator as { reports?: { pendingStatuses?: unknown } }).reports;
  return { pendingStatuses: reports?.pendingStatuses === true };
}
