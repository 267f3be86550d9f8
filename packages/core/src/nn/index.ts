// nn: modules and layers.
export { Module, ModuleList, StateDictError, type LoadResult } from './module.ts';
