// The switch as a child process: shared with the demo and the benchmark.
export { startSwitch, type SwitchProcess } from '../../simulators/lib/switch-process.ts';
