// LLLVAR: a 3-digit ASCII length (000-999), then the data.
import { asciiVarPrefixer } from './ascii-var.ts';

export const LLLVAR = asciiVarPrefixer('LLLVAR', 3);
