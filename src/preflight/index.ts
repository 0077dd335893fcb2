// The preflight check (`gitops-bot check`, the server's start-up check) and the 403 explanations: what the bot
// needs to be allowed to do on each cluster, asked of the API server before anything is applied.

export {
  explainForbidden,
  explainForbiddenMessage,
  refusedPermission,
} from "../cluster/preflight/forbidden.js";
export {
  describePermission,
  type Permission,
  policyRuleFor,
  type Requirement,
  rbacRuleFor,
} from "../cluster/preflight/permission.js";
export { type AccessResult, reviewPermission, reviewRequirements } from "./access.js";
export { type ClusterCheck, type ClusterCheckTarget, checkCluster } from "./check-cluster.js";
export { missingPermissions, renderClusterCheck, renderTools } from "./render.js";
export { type KindInfo, type TreeRequirements, treeRequirements } from "./requirements.js";
export {
  type ClusterReadiness,
  logReadiness,
  type Readiness,
  readinessResponse,
  startupCheck,
  watchReadiness,
} from "./startup.js";
export { checkTools, parseToolVersion, type ToolCheck } from "./tools.js";
export { type CheckedTree, loadTree } from "./tree.js";
