// Registry authentication lives below source/ and images/ (src/util/registry/auth.ts); kept here for importers.
export * from "../../util/registry/auth.js";
