// client-node's generic object API (KubernetesObjectApi) passes every request body through its model classes
// when it knows the kind: a field whose wire name differs from the model's attribute name is silently dropped.
// For a CustomResourceDefinition that is every `x-kubernetes-*` extension (preserve-unknown-fields,
// int-or-string, list-type, validations) and `default`, `$ref`: the CRD the API server stores is not the one in
// Git. The bot only ever holds the wire form (parsed YAML, JSON from the API server), so the generic API must
// send it as it is. client-node looks up a per-kind serializer in `ObjectSerializer.modelRegistry` first; a
// registry that answers every group/version/kind with the identity makes every body go out unchanged.
// Typed APIs (CoreV1Api, AuthorizationV1Api…) use generated serializers of their own and are not affected.
import { ObjectSerializer } from "@kubernetes/client-node/dist/serializer.js";

const identity = {
  serialize: (data: unknown) => data,
  deserialize: (data: unknown) => data,
};

const everyKind = new Proxy({} as Record<string, typeof identity>, { get: () => identity });

/** Installs the identity serializer for every kind (idempotent). */
export function sendWireForm(): void {
  (ObjectSerializer as unknown as { modelRegistry: unknown }).modelRegistry = new Proxy(
    {} as Record<string, unknown>,
    { get: () => everyKind, set: () => true },
  );
}

sendWireForm();
