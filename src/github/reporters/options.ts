// The operator's report settings (operator config `reports:`), with their defaults.
import type { OperatorConfig } from "../../config/operator-config.js";

export interface ReportOptions {
  /** Pending statuses per Kustomization and HelmRelease while they reconcile, and a pending cluster status. */
  pendingStatuses: boolean;
}

export function reportOptions(operator: OperatorConfig): ReportOptions {
  // Tests and embedders may hand a config built without the schema's defaults.
  return { pendingStatuses: operator.reports?.pendingStatuses === true };
}
