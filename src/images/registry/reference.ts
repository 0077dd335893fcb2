// Registry references live below source/ and images/ (src/util/registry/reference.ts); kept here for importers.
export * from "../../util/registry/reference.js";
