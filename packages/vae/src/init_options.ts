import type { Backend, Generator } from '@reconvla/core';

/** Where new parameters live and which random stream initialises them. */
export interface InitOptions { backend?: Backend; generator?: Generator }
