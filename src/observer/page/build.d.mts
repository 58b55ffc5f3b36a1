/** Bundles the observer's page into `dir` (default src/observer/assets); resolves with the folder. */
export function buildObserverPage(dir?: string): Promise<string>;
