// What the README's examples leave to the reader (their inventory, their
// deployer, their database pool), declared so that tsc checks every call
// the examples make to the package (tests/js/package.test.mjs).
type TargetReport = import("orchestrator-engine").TargetReport;
type ExpectedState = import("orchestrator-engine").ExpectedState;

declare function inventory(): Promise<TargetReport[]>;
declare function running(target: ExpectedState): string;
declare function deploy(...what: string[]): Promise<void>;
declare function decommission(group: string, name: string): Promise<void>;
declare function changeWindowOpen(): Promise<boolean>;
declare function errorRate(name: string): Promise<number>;
declare function queryDatadog(query: unknown, at: number): Promise<number>;
declare const pool: { query(config: { name?: string; text: string; values?: unknown[] }): Promise<{ rows: unknown[] }> };
declare const process: { env: Record<string, string | undefined> };
declare const reports: TargetReport[];
declare const token: string;
declare let lastSeq: number;
declare const names: string[];
declare const versions: string[];
declare const groups: string[];
declare const messages: string[];
declare const isError: Uint8Array;
