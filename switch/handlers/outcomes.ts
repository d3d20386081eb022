// The one place where a decision becomes DE39/DE44: the twin of partner-interface.md §7.

export const OUTCOMES = {
  APPROVED: { rc: '00', reason: null },
  IN_PROGRESS: { rc: '09', reason: 'IN_PROGRESS' },
  CAMPAIGN_CLOSED: { rc: '12', reason: 'CAMPAIGN_CLOSED' },
  REVERSED_EARLIER: { rc: '12', reason: 'REVERSED_EARLIER' },
  BAD_PROCESSING_CODE: { rc: '12', reason: 'BAD_PROCESSING_CODE' },
  AMOUNT_MISMATCH: { rc: '13', reason: 'AMOUNT_MISMATCH' },
  CURRENCY: { rc: '13', reason: 'CURRENCY' },
  UNKNOWN_CARD: { rc: '14', reason: 'UNKNOWN_CARD' },
  SUPERSEDED_CARD: { rc: '14', reason: 'SUPERSEDED_CARD' },
  FORMAT: { rc: '30', reason: 'FORMAT' },
  ID_MISMATCH: { rc: '57', reason: 'ID_MISMATCH' },
  PROXY_NOT_ALLOWED: { rc: '57', reason: 'PROXY_NOT_ALLOWED' },
  SELF_NOT_ALLOWED: { rc: '57', reason: 'SELF_NOT_ALLOWED' },
  NOT_PARTICIPATING: { rc: '58', reason: 'NOT_PARTICIPATING' },
  MAC: { rc: '63', reason: 'MAC' },
  ALREADY_COLLECTED: { rc: '65', reason: 'ALREADY_COLLECTED' },
  UNAVAILABLE: { rc: '91', reason: 'UNAVAILABLE' },
  NOT_SIGNED_ON: { rc: '91', reason: 'NOT_SIGNED_ON' },
  DUPLICATE: { rc: '94', reason: 'DUPLICATE' },
  SYSTEM: { rc: '96', reason: 'SYSTEM' },
} as const satisfies Record<string, { rc: string; reason: string | null }>;

export type Outcome = keyof typeof OUTCOMES;
