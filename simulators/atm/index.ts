// The ATM simulator's public face, for the CLI, a certification runner and the demo.
export { AtmTerminal, OUTCOME_KINDS, TERMINAL_DEFAULTS, type OutcomeKind, type Customer, type WithdrawalPlan, type SessionResult } from './terminal.ts';
export { BankClient, BankTimeoutError, BankUnreachableError } from './bank-client.ts';
export { runLoad, formatSummary, formatProgress, reconcile, percentile, LOAD_LIMITS, type LoadOptions, type LoadSummary, type LoadProgress } from './load.ts';
export { loadRoster, parseRoster, claimantFor, ageOn, taipeiDate, type Person } from './people.ts';
export { screenFor, renderScreen, balanceScreen, SWITCH_SCREENS, BANK_SCREENS, CODE_SCREENS, DISPENSE_SCREENS, type Screen } from './screens.ts';
export { Prng } from './prng.ts';
