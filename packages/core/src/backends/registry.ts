// Which backends exist on this machine, for `reconvla doctor` and backend selection.

export interface BackendDescription {
  name: string;
  available: boolean;
  summary?: string;
  details?: Record<string, string>;
  /** How to make a missing backend available. */
  fix?: string;
}

export async function describeBackends(): Promise<BackendDescription[]> {
  const out: BackendDescription[] = [{ name: 'cpu', available: true, summary: 'pure TypeScript reference backend (always available)' }];
  return out;
}
