// The checks `validate` runs (and the tests run on every synthesized output). Not part of the
// jsii API: imported by the CLI and the tests from this folder.
export * from './finding';
export * from './manifest';
export * from './checks';
export * from './api-server';
export * from './ca-key';
