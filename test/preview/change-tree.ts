// A change that creates its own Namespace and CRD in Kustomization `infra` and objects using both in Kustomization
// `apps` (dependsOn infra): the most common pull request of a Flux repository.
import { uniqueName } from "../support/kube.js";
import { fluxKustomization } from "../support/repo-tree.js";

export interface ChangeNames {
  /** The existing namespace the Kustomizations live in. */
  home: string;
  /** The namespace the change creates. */
  newNamespace: string;
  /** The API group of the CRD the change creates. */
  group: string;
  crdName: string;
}

export function changeNames(home: string): ChangeNames {
  const id = uniqueName("pv");
  const group = `${id}.example.com`;
  return { home, newNamespace: `${id}-apps`, group, crdName: `widgets.${group}` };
}

export function namespaceYaml(name: string): string {
  return `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n`;
}

export function widgetCrd(n: ChangeNames): string {
  return `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: ${n.crdName}
spec:
  group: ${n.group}
  scope: Namespaced
  names:
    kind: Widget
    plural: widgets
    singular: widget
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [size]
              properties:
                size:
                  type: integer
                color:
                  type: string
                  enum: [red, blue]
`;
}

export function widget(n: ChangeNames, name: string, spec: string): string {
  return `apiVersion: ${n.group}/v1
kind: Widget
metadata:
  name: ${name}
  namespace: ${n.newNamespace}
spec:
${spec}`;
}

export function deployment(
  namespace: string,
  name: string,
  opts: { selector?: boolean; replicas?: string } = {},
) {
  const selector = opts.selector === false ? "" : `  selector:\n    matchLabels:\n      app: ${name}\n`;
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
  replicas: ${opts.replicas ?? "1"}
${selector}  template:
    metadata:
      labels:
        app: ${name}
    spec:
      containers:
        - name: web
          image: nginx:1.27
`;
}

/** The repository files: clusters/<clusterPath>/{infra,apps}.yaml, infra/ and apps/ with the given objects. */
export function changeTree(
  n: ChangeNames,
  clusterPath: string,
  apps: Record<string, string>,
  infra: Record<string, string> = {
    "namespace.yaml": namespaceYaml(n.newNamespace),
    "crd.yaml": widgetCrd(n),
  },
): Record<string, string> {
  const files: Record<string, string> = {
    [`${clusterPath}/infra.yaml`]: fluxKustomization({ name: "infra", namespace: n.home, path: "./infra" }),
    [`${clusterPath}/apps.yaml`]: fluxKustomization({
      name: "apps",
      namespace: n.home,
      path: "./apps",
      extra: "  dependsOn:\n    - name: infra\n",
    }),
  };
  for (const [f, c] of Object.entries(infra)) files[`infra/${f}`] = c;
  for (const [f, c] of Object.entries(apps)) files[`apps/${f}`] = c;
  return files;
}
