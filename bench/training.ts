export async function benchTraining(): Promise<[]> { return []; }
